# gort-gdb.py - gdb support for gort programs (Go: src/runtime/runtime-gdb.py).
#
#   (gdb) source /usr/local/share/gort/gort-gdb.py     # or auto-loaded, see below
#   (gdb) info goroutines          list every goroutine: id, status, where
#   (gdb) goroutine 12 bt          run a command (bt, info frame, ...) in
#                                  goroutine 12's context
#   (gdb) goroutine all bt         ... in every goroutine's
#
# Installed as share/gort/gort-gdb.py, and as
# share/gdb/auto-load/<libdir>/libgort.so.<version>-gdb.py, which gdb loads by
# itself for a program linked with the shared library once that directory is
# in its auto-load safe-path (see docs/debugging.md).
#
# How it works: every goroutine lives in a chunk of the `allgchunks` list
# (src/sched/proc.c). A parked goroutine's registers are on its own stack at
# g->sp (src/asm/switch_*.S: MXCSR/x87 CW, r15, r14, r13, r12, rbx, rbp, PC);
# `goroutine N cmd` loads them into the selected thread, runs cmd and puts
# the thread's own registers back. A running goroutine is found on the
# thread whose rt_tls_g points at it.

import struct

import gdb

G_STATUS = {0: "idle", 1: "runnable", 2: "running", 3: "syscall", 4: "waiting", 6: "dead"}
# the saved context at g->sp, in 8-byte slots
CTX = {"r15": 1, "r14": 2, "r13": 3, "r12": 4, "rbx": 5, "rbp": 6, "pc": 7}
CTX_SIZE = 8 * 8


def _static(name):
    sym = gdb.lookup_static_symbol(name) or gdb.lookup_global_symbol(name)
    if sym is None:
        raise gdb.GdbError("gort: symbol %s not found (is libgort loaded, with debug info?)" % name)
    return sym.value()


def allgs():
    c = _static("allgchunks")
    while int(c) != 0:
        for i in range(int(c["n"])):
            yield c["g"][i]
        c = c["next"]


def waitreason(g):
    names = _static("rt_waitreason_names")
    try:
        return names[int(g["waitreason"])].string()
    except gdb.error:
        return ""


def thread_g(thread):
    """The G the thread runs (its rt_tls_g), as an integer address."""
    cur = gdb.selected_thread()
    try:
        thread.switch()
        return int(gdb.parse_and_eval("(unsigned long)rt_tls_g"))
    except gdb.error:
        return 0
    finally:
        cur.switch()


def saved_context(g):
    sp = int(g["sp"])
    if sp == 0:
        return None
    mem = gdb.selected_inferior().read_memory(sp, CTX_SIZE)
    slots = struct.unpack("<8Q", bytes(mem))
    regs = {name: slots[i] for name, i in CTX.items()}
    regs["rsp"] = sp + CTX_SIZE
    return regs


def funcname(pc):
    try:
        block = gdb.block_for_pc(pc)
        while block is not None and block.function is None:
            block = block.superblock
        if block is not None:
            return block.function.print_name
    except RuntimeError:
        pass
    sym = gdb.execute("info symbol 0x%x" % pc, to_string=True).split(" ")[0]
    return sym if sym and not sym.startswith("No") else "0x%x" % pc


class InfoGoroutines(gdb.Command):
    """List gort's goroutines: "* id status (wait reason) function"; * marks the selected thread's."""

    def __init__(self):
        super().__init__("info goroutines", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        running = {}
        for t in gdb.selected_inferior().threads():
            addr = thread_g(t)
            if addr:
                running[addr] = t
        cur = thread_g(gdb.selected_thread())
        for g in allgs():
            st = int(g["status"])
            if st in (0, 6):
                continue
            addr = int(g.address)
            mark = "*" if addr == cur else " "
            name = G_STATUS.get(st, str(st))
            if st == 4:
                name += " (%s)" % waitreason(g)
            if addr in running:
                where = "on thread %d" % running[addr].num
            else:
                where = parked_where(g)
            print("%s %d %s %s" % (mark, int(g["goid"]), name, where))


REGS = ["pc", "rsp", "rbp", "rbx", "r12", "r13", "r14", "r15"]


def load_context(ctx):
    """Put a parked goroutine's registers in the selected thread; returns the
    thread's own, for restore_context."""
    gdb.execute("select-frame 0", to_string=True)
    old = {r: int(gdb.parse_and_eval("(unsigned long)$%s" % r)) for r in REGS}
    for r in REGS:
        gdb.execute("set $%s = %d" % (r, ctx[r]), to_string=True)
    return old


def restore_context(old):
    gdb.execute("select-frame 0", to_string=True)
    for r in REGS:
        gdb.execute("set $%s = %d" % (r, old[r]), to_string=True)


def parked_where(g):
    """Where a parked goroutine waits: the gort_* call it made (as Go shows
    runtime.gopark's caller), else its innermost function."""
    ctx = saved_context(g)
    if ctx is None:
        return "(not started)"
    old = load_context(ctx)
    try:
        f = gdb.newest_frame()
        first = None
        while f is not None:
            name = f.name()
            if first is None and name:
                first = name
            if name and name.startswith("gort_"):
                return name
            f = f.older()
        return first or funcname(ctx["pc"])
    except gdb.error:
        return funcname(ctx["pc"])
    finally:
        restore_context(old)


def find_g(goid):
    for g in allgs():
        if int(g["goid"]) == goid and int(g["status"]) not in (0, 6):
            return g
    return None


class GoroutineCmd(gdb.Command):
    """goroutine <id>|all <gdb command>: run the command in that goroutine's context.

    Example: goroutine 12 bt"""

    def __init__(self):
        super().__init__("goroutine", gdb.COMMAND_STACK, gdb.COMPLETE_NONE)

    def invoke(self, arg, from_tty):
        parts = arg.split(None, 1)
        if len(parts) < 2:
            raise gdb.GdbError("usage: goroutine <id>|all <gdb command>")
        cmd = parts[1]
        if parts[0] == "all":
            for g in list(allgs()):
                if int(g["status"]) in (0, 6):
                    continue
                print("\ngoroutine %d:" % int(g["goid"]))
                self.run_in(g, cmd)
            return
        try:
            goid = int(parts[0])
        except ValueError:
            raise gdb.GdbError("goroutine: %s is not a goroutine id" % parts[0])
        g = find_g(goid)
        if g is None:
            raise gdb.GdbError("goroutine %d not found" % goid)
        self.run_in(g, cmd)

    def run_in(self, g, cmd):
        addr = int(g.address)
        for t in gdb.selected_inferior().threads():
            if thread_g(t) == addr:  # running: its thread has its registers
                cur = gdb.selected_thread()
                t.switch()
                try:
                    gdb.execute(cmd)
                finally:
                    cur.switch()
                return
        ctx = saved_context(g)
        if ctx is None:
            print("goroutine %d has not started yet" % int(g["goid"]))
            return
        frame = gdb.selected_frame()
        old = load_context(ctx)
        try:
            gdb.execute(cmd)
        finally:
            restore_context(old)
            try:
                frame.select()
            except gdb.error:
                pass


InfoGoroutines()
GoroutineCmd()
