#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the VM for run-bench.sh: guest-bench.sh pin|mirror OUTDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
name=$1 out=$2
echo 300 > /proc/sys/vm/nr_hugepages
insmod "$root/rgup.ko" || exit 1
if [ "$name" = mirror ]; then
	insmod "${KBUILD:?}/lib/test_hmm.ko" || exit 1
fi
"$here/rgup_${name}_bench" "$out/$name-bench.csv" > "$out/$name-bench.md"
rc=$?
[ "$name" = mirror ] && rmmod test_hmm
rmmod rgup
exit $rc
