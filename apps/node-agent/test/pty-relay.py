#!/usr/bin/env python3
"""Stands in for rpc_pipefs' nfsd/cld pipe in tests: opens a raw pty, makes PATH a symlink to its
slave side (which the node-agent opens as its --cld-pipe), and relays bytes: stdin -> pty
(upcalls), pty -> stdout (downcalls). Node has no pty of its own. Usage: pty-relay.py PATH.
Ends when stdin closes."""
import os, pty, select, sys, tty

path = sys.argv[1]
master, slave = pty.openpty()
tty.setraw(slave)  # no echo, no line editing, no CR/LF rewriting: bytes pass unchanged
os.symlink(os.ttyname(slave), path)
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
    os.unlink(path)
