#define BOOST_TEST_MODULE dashpiff origin
#include <boost/test/unit_test.hpp>
