# Holds a POSIX lock on an NFS file (a real NFSv4 LOCK) and proves, on SIGUSR1, that it still
# holds it by writing through it (a lost lock makes the client fail I/O on this fd with EIO).
import fcntl, os, signal, sys, time
path, report = sys.argv[1], sys.argv[2]
def say(text):
    with open(report, 'a') as f:
        f.write(text + '\n')
f = open(path, 'a+')
try:
    fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
except OSError as e:
    say('LOCK-REFUSED %s' % e.errno)
    sys.exit(1)
say('LOCKED')
def probe(signum, frame):
    try:
        f.write('still mine %f\n' % time.time())
        f.flush()
        os.fsync(f.fileno())
        say('WRITE-OK')
    except OSError as e:
        say('WRITE-ERR %s' % e.errno)
signal.signal(signal.SIGUSR1, probe)
while True:
    time.sleep(3600)
