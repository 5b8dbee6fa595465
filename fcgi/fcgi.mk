# FastCGI front end
