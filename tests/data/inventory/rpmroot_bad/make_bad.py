# Writes rpmroot_bad/var/lib/rpm/rpmdb.sqlite from the good fixture: the
# beacon-hello header unchanged (hnum 1) and three hostile copies of it.
# Run from tests/data/inventory: python3 rpmroot_bad/make_bad.py
import sqlite3, struct, os
src = sqlite3.connect('rpmroot/var/lib/rpm/rpmdb.sqlite')
good = dict(src.execute('SELECT hnum, blob FROM Packages'))
blob = bytes(good[2])  # beacon-hello
il, dl = struct.unpack('>II', blob[:8])

def patch(tag, field, value):
    b = bytearray(blob)
    for i in range(il):
        at = 8 + 16 * i
        if struct.unpack('>I', b[at:at + 4])[0] == tag:
            struct.pack_into('>I', b, at + 4 * field, value)
            return bytes(b)
    raise SystemExit('no tag %d' % tag)

out = 'rpmroot_bad/var/lib/rpm/rpmdb.sqlite'
if os.path.exists(out):
    os.remove(out)
db = sqlite3.connect(out)
db.execute('PRAGMA page_size=512')
db.execute('CREATE TABLE Packages (hnum INTEGER PRIMARY KEY AUTOINCREMENT, blob BLOB NOT NULL)')
rows = [
    (1, blob),                          # good
    (2, blob[:500]),                    # truncated
    (3, patch(1000, 2, dl + 10)),       # NAME's offset outside the data store
    (4, patch(1009, 3, 0x40000001)),    # SIZE's count: 4 * count overflows 32 bits
]
db.executemany('INSERT INTO Packages VALUES (?, ?)', rows)
db.commit()
db.execute('VACUUM')
db.close()
