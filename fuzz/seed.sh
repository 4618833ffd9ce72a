#!/bin/sh
# Seeds the fuzz corpora from the committed captures (assets/captures/*): each capture is a seed
# for decode_capture as it is. Works when there are none yet. Run from anywhere.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
captures="$here/../assets/captures"
corpus="$here/corpus/decode_capture"
mkdir -p "$corpus" "$here/corpus/decode_frame"
n=0
if [ -d "$captures" ]; then
    for f in "$captures"/*; do
        [ -f "$f" ] || continue
        cp "$f" "$corpus/$(basename "$f")"
        n=$((n + 1))
    done
fi
echo "seeded $n capture(s) into $corpus"
