#!/usr/bin/env python3
"""Stands in for rpc_pipefs' nfsd/cld pipe in tests: opens a raw pty, makes LINK a symlink to its
slave side, and relays bytes: stdin -> pty (upcalls), pty -> stdout (downcalls). Node has no pty
of its own; this is the whole reason for Python here.

Usage: pty-relay.py LINK [--log FILE -- COMMAND...]
With a COMMAND (e.g. nfsdcld -F -p PIPEFS -s STORE), it is started once the pipe exists, with its
stderr in FILE, and stopped at the end; without one, the pipe's user (the node-agent, opening LINK
as its --cld-pipe) is started by the caller after "ready" appears on stderr. Ends when stdin closes.
"""
import os, pty, select, subprocess, sys, tty

link, rest = sys.argv[1], sys.argv[2:]
log, command = None, []
if rest:
    if len(rest) < 4 or rest[0] != '--log' or rest[2] != '--':
        sys.exit('usage: pty-relay.py LINK [--log FILE -- COMMAND...]')
    log, command = rest[1], rest[3:]
os.makedirs(os.path.dirname(os.path.abspath(link)), exist_ok=True)
master, slave = pty.openpty()
tty.setraw(slave)  # no echo, no line editing, no CR/LF rewriting: bytes pass unchanged
os.symlink(os.ttyname(slave), link)
daemon = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=open(log, 'w')) if command else None
sys.stderr.write('ready\n')
sys.stderr.flush()
stdin, stdout = sys.stdin.fileno(), sys.stdout.fileno()
try:
    while True:
        ready, _, _ = select.select([stdin, master], [], [])
        if stdin in ready:
            data = os.read(stdin, 65536)
            if not data:
                break
            os.write(master, data)
        if master in ready:
            try:
                os.write(stdout, os.read(master, 65536))
            except OSError:
                break
finally:
    if daemon:
        daemon.terminate()
        daemon.wait()
    os.unlink(link)
