"""SPEC §2's URL codec, written independently of the C++ one so that the
end-to-end checks can build proxy URLs without trusting the code under test."""


def enc(url):
    for a, b in (("!", "!!"), (":", "!0"), ("/", "!1"), ("#", "!2"), ("~", "!3"), ("?", "!4")):
        url = url.replace(a, b)
    return url


def dec(encoded):
    """Single left-to-right scan (SPEC §2); ValueError on a dangling or unknown escape."""
    codes = {"!": "!", "0": ":", "1": "/", "2": "#", "3": "~", "4": "?"}
    out, i = [], 0
    while i < len(encoded):
        c = encoded[i]
        if c == "!":
            if i + 1 >= len(encoded) or encoded[i + 1] not in codes:
                raise ValueError(f"bad escape at {i}")
            out.append(codes[encoded[i + 1]])
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)
