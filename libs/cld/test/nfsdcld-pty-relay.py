#!/usr/bin/env python3
"""Runs nfsdcld against a raw pty standing in for rpc_pipefs' nfsd/cld pipe and relays bytes:
stdin -> pipe (upcalls), pipe -> stdout (downcalls). Node has no pty of its own; this is the
whole reason for Python here. Usage: nfsdcld-pty-relay.py NFSDCLD WORKDIR. Ends when stdin closes.
"""
import os, pty, select, subprocess, sys, tty

nfsdcld, work = sys.argv[1], sys.argv[2]
os.makedirs(os.path.join(work, 'pipefs', 'nfsd'), exist_ok=True)
os.makedirs(os.path.join(work, 'store'), exist_ok=True)
master, slave = pty.openpty()
tty.setraw(slave)  # no echo, no line editing, no CR/LF rewriting: bytes pass unchanged
os.symlink(os.ttyname(slave), os.path.join(work, 'pipefs', 'nfsd', 'cld'))
daemon = subprocess.Popen([nfsdcld, '-F', '-p', os.path.join(work, 'pipefs'), '-s', os.path.join(work, 'store')],
                          stdout=subprocess.DEVNULL, stderr=open(os.path.join(work, 'nfsdcld.log'), 'w'))
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
            os.write(stdout, os.read(master, 65536))
finally:
    daemon.terminate()
    daemon.wait()
