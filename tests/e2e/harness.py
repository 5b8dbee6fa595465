"""A tiny check runner for the end-to-end tests: each check prints one
`PASS: name` or `FAIL: name: reason` line; scripts/test.sh counts them.
DASHPIFF_EXCEPT (comma-separated names) leaves checks out: the sanitized
run (scripts/sanitize-test.sh) drops those that bound memory in figures
the sanitizers' own overhead breaks."""
import os
import sys
import traceback

_checks = []


def check(fn):
    _checks.append(fn)
    return fn


class CheckFailed(AssertionError):
    pass


def expect(cond, message):
    if not cond:
        raise CheckFailed(message)


def run(prefix, setup=None, teardown=None, only=None):
    failed = 0
    left_out = {n for n in os.environ.get("DASHPIFF_EXCEPT", "").split(",") if n}
    state = setup() if setup else None
    try:
        for fn in _checks:
            name = f"{prefix}.{fn.__name__}"
            if (only and only not in name) or fn.__name__ in left_out:
                continue
            try:
                fn(state) if state is not None else fn()
                print(f"PASS: {name}", flush=True)
            except Exception as e:  # a check that raises has failed, whatever it raised
                failed += 1
                reason = str(e).splitlines()[0] if str(e) else type(e).__name__
                print(f"FAIL: {name}: {reason}", flush=True)
                if not isinstance(e, CheckFailed):
                    traceback.print_exc(file=sys.stderr)
    finally:
        if teardown:
            teardown(state)
    return 1 if failed else 0


def reporter(prefix, results):
    """For checks named while they run (one per stream and mode, say):
    report(name, fn) runs fn and prints and counts its line as run() does,
    in results["passed"] / results["failed"]."""
    def report(name, fn):
        try:
            fn()
            print(f"PASS: {prefix}.{name}", flush=True)
            results["passed"] += 1
        except Exception as e:  # any exception is a failed check
            reason = str(e).splitlines()[0] if str(e) else type(e).__name__
            print(f"FAIL: {prefix}.{name}: {reason}", flush=True)
            results["failed"] += 1
    return report
