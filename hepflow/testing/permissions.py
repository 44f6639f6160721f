"""Can an unprivileged daemon user read a tree? (xrootd refuses to run as root.)"""

from __future__ import annotations

import os
import pwd
from pathlib import Path


def _user_ids(user: str) -> tuple[int, int, frozenset[int]]:
    entry = pwd.getpwnam(user)
    groups = frozenset(os.getgrouplist(user, entry.pw_gid))
    return entry.pw_uid, entry.pw_gid, groups


def _may(st: os.stat_result, uid: int, groups: frozenset[int], want: int) -> bool:
    """Would ``uid`` get the ``want`` bits (r=4, w=2, x=1) on this inode?"""
    if uid == 0:
        return True
    if st.st_uid == uid:
        bits = (st.st_mode >> 6) & 7
    elif st.st_gid in groups:
        bits = (st.st_mode >> 3) & 7
    else:
        bits = st.st_mode & 7
    return bits & want == want


def _tree_readable(root: Path, uid: int, groups: frozenset[int]) -> bool:
    """Can ``uid`` reach ``root`` and read every file below it?"""
    for ancestor in reversed(root.parents):
        if not _may(ancestor.stat(), uid, groups, 1):
            return False
    for dirpath, dirnames, filenames in os.walk(root):
        if not _may(os.stat(dirpath), uid, groups, 5):
            return False
        for name in dirnames:
            if not _may(os.stat(os.path.join(dirpath, name)), uid, groups, 5):
                return False
        for name in filenames:
            if not _may(os.stat(os.path.join(dirpath, name)), uid, groups, 4):
                return False
    return True


# --------------------------------------------------------------------------
# process handling
