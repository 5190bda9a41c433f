"""Counts from `perf stat -x,` output, per operation: shared by the bench
scripts' Python steps (run with PYTHONPATH=scripts).

A line is `COUNT,UNIT,EVENT,...`; an event is named by its last part with
`sys_enter_` dropped, so `syscalls:sys_enter_sendmsg` is `sendmsg`,
`raw_syscalls:sys_enter` is `sys_enter` (all system calls) and
`context-switches` stays as it is. Lines without a count ("<not counted>")
are left out."""


def per_op(path, ops):
    """{event: count / ops} for the events in the perf stat file at `path`."""
    counts = {}
    for line in open(path):
        f = line.strip().split(",")
        if len(f) > 2 and f[0].isdigit():
            counts[f[2].split(":")[-1].split("/")[0].replace("sys_enter_", "")] = int(f[0]) / ops
    return counts
