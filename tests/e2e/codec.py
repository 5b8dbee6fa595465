"""SPEC §2's URL codec, written independently of the C++ one so that the
end-to-end checks can build proxy URLs without trusting the code under test."""


def enc(url):
    for a, b in (("!", "!!"), (":", "!0"), ("/", "!1"), ("#", "!2"), ("~", "!3"), ("?", "!4")):
        url = url.replace(a, b)
    return url
