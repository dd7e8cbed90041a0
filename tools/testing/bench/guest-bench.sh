#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
# Inside the VM for run-bench.sh: guest-bench.sh pin|mirror|p2p OUTDIR
set -u
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../../.." && pwd)
name=$1 out=$2
echo 300 > /proc/sys/vm/nr_hugepages
insmod "$root/rgup.ko" || exit 1
case $name in
mirror) insmod "${KBUILD:?}/lib/test_hmm.ko" || exit 1 ;;
p2p) insmod "$root/rgup_bench_p2p.ko" || exit 1 ;;
esac
"$here/rgup_${name}_bench" "$out/$name-bench.csv" > "$out/$name-bench.md"
rc=$?
case $name in
mirror) rmmod test_hmm ;;
p2p) rmmod rgup_bench_p2p ;;
esac
rmmod rgup
exit $rc
