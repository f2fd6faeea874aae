#!/usr/bin/env bash
# timeout: 180
# fuse_virt: the 3fs-virt directory: rm-rf by symlink (absolute and relative paths, with
# the caller's permissions), rm-rf by mv, and the "mv:" symlink rename.
set -u
. "$C3FS_ROOT/tests/lib/common.sh"
. "$C3FS_ROOT/tests/lib/cluster.sh"
t_init
c_start 3 2 3 || { t_ok 1 "cluster starts"; t_done; }
M=$T/mnt
c_mount "$M" || { t_ok 1 "mount"; t_done; }

mktree() { # DIR: 3 levels, 40 files
	local d=$1 i j
	for i in 1 2 3 4; do
		mkdir -p "$d/a$i/b"
		for j in 1 2 3 4 5; do
			echo "$i$j" >"$d/a$i/f$j"
			head -c 5000 /dev/urandom >"$d/a$i/b/g$j"
		done
	done
}

mktree "$M/tree1"
t_is "$(find "$M/tree1" -type f | wc -l)" 40 "tree of 40 files made"
ln -s "$M/tree1" "$M/3fs-virt/rm-rf/"
t_ok $? "ln -s <absolute path> 3fs-virt/rm-rf/ succeeds"
[ ! -e "$M/tree1" ]
t_ok $? "the tree is gone"
ls "$M" | grep -q tree1
t_ok $(( ! $? )) "and not listed"

mktree "$M/sub/tree2"
(cd "$M/sub" && ln -s tree2 "$M/3fs-virt/rm-rf/anything")
t_ok $? "ln -s <relative path> 3fs-virt/rm-rf/<name> (resolved against the caller's cwd)"
[ ! -e "$M/sub/tree2" ] && [ -d "$M/sub" ]
t_ok $? "relative tree gone, its parent kept"

mktree "$M/tree3"
mv "$M/tree3" "$M/3fs-virt/rm-rf/"
t_ok $? "mv <dir> 3fs-virt/rm-rf/ succeeds"
[ ! -e "$M/tree3" ]
t_ok $? "the moved tree is removed"

# permissions: another user may not remove root's protected tree
mkdir -p "$M/prot/inner" && echo x >"$M/prot/inner/f" && chmod 0755 "$M/prot" "$M/prot/inner"
setpriv --reuid 1000 --regid 1000 --clear-groups -- ln -s "$M/prot" "$M/3fs-virt/rm-rf/p" 2>/dev/null
t_ok $(( ! $? )) "uid 1000 cannot rm-rf root's tree"
[ -f "$M/prot/inner/f" ]
t_ok $? "root's tree is intact"
ln -s /etc "$M/3fs-virt/rm-rf/" 2>/dev/null
t_ok $(( ! $? )) "a path outside the mount is refused"
[ -d /etc ]
t_ok $? "(and nothing outside happened)"

# mv: symlink: atomic rename in one request
mkdir -p "$M/src/deep" "$M/dst"
echo payload >"$M/src/deep/file"
ln -s "mv:$M/src/deep" "$M/dst/moved"
t_ok $? "ln -s mv:<src> <dst> succeeds"
[ ! -e "$M/src/deep" ] && [ "$(cat "$M/dst/moved/file")" = payload ]
t_ok $? "the directory moved with its contents"
t_is "$(stat -c %F "$M/dst/moved")" directory "dst is the real directory, not a symlink"
echo other >"$M/dst/taken"
ln -s "mv:$M/dst/moved/file" "$M/dst/taken" 2>/dev/null
t_ok $(( ! $? )) "mv: onto an existing name is refused"
t_is "$(cat "$M/dst/taken")" other "existing target untouched"
ln -s "mv:$M/nope" "$M/dst/x" 2>/dev/null
t_ok $(( ! $? )) "mv: of a missing source fails"
touch "$M/3fs-virt/x" 2>/dev/null
t_ok $(( ! $? )) "3fs-virt refuses plain files"

c_umount "$M"
t_ok $? "unmount"
t_done
