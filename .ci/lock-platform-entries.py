#!/usr/bin/env python3
# Usage: python3 .ci/lock-platform-entries.py package-lock.json   (run after any `npm install` that rewrites the lock)
import json, sys, re
# npm's registry mirror here lacks the other platforms' optional packages, so npm writes no lock entry for them
# and `npm ci` then refuses the lock. An entry with the platform fields lets npm ci skip them as it would anyway.
path = sys.argv[1]
d = json.load(open(path))
pk = d['packages']
added = []
for key, entry in list(pk.items()):
    for name, ver in (entry.get('optionalDependencies') or {}).items():
        top = 'node_modules/' + name
        nested = key + '/node_modules/' + name if key else top
        if top in pk or nested in pk:
            continue
        m = re.search(r'(android|darwin|linux|win32|freebsd|openbsd|netbsd|sunos|aix)-(arm64|x64|arm|ia32|ppc64|s390x|riscv64|loong64|mips64el)(-musl)?', name)
        if not m:
            print('cannot place', name, file=sys.stderr); sys.exit(1)
        e = {'version': ver, 'cpu': [m.group(2)], 'dev': True if entry.get('dev') else None, 'license': entry.get('license'), 'optional': True, 'os': [m.group(1)]}
        if m.group(3): e['libc'] = ['musl']
        pk[top] = {k: v for k, v in e.items() if v is not None}
        added.append(top)
d['packages'] = dict(sorted(pk.items(), key=lambda kv: (kv[0] != '', kv[0])))
json.dump(d, open(path, 'w'), indent=2)
open(path, 'a').write('\n')
print('added', added)
