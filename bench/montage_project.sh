#!/bin/sh
# montage_project.sh RAWDIR PROJDIR TEMPLATE.hdr
# Project every RAWDIR/*.fits onto TEMPLATE with one mProjectPP process per frame,
# named as mProjExec names them (PROJDIR/hdu0_<name>.fits + _area.fits). This is what
# mProjExec does in one process; Montage 6.0's mProjExec keeps ~13 MB per frame it
# has projected (2.7 GB peak RSS at 200 frames), too much for 1000 frames on a shared
# machine, so mosaic_bench.lua uses this loop for large N (--montage-projector).
set -e
[ $# -eq 3 ] || { echo "usage: $0 RAWDIR PROJDIR TEMPLATE.hdr" >&2; exit 2; }
for f in "$1"/*.fits; do
  mProjectPP "$f" "$2/hdu0_$(basename "$f")" "$3" > /dev/null
done
