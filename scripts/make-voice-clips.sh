#!/usr/bin/env bash
# Generates the waiting room's announcement clips once, into voice/ (committed; nothing is
# generated at run time and nothing is downloaded): Mandarin and English words and numbers with
# espeak-ng, a two-tone chime with sox, all as 16 kHz mono 16-bit WAV with the silence at both
# ends trimmed. The clip names are those of `frontdesk_domain::announce::clip_set`. A site may
# replace any clip with its own recording of the same name (see voice/README.md).
#
#     sudo apt-get install espeak-ng sox
#     bash scripts/make-voice-clips.sh
set -euo pipefail
cd "$(dirname "$0")/.."
out=voice
mkdir -p "$out/zh" "$out/en"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

say() { # voice, text, file
  espeak-ng -v "$1" -s 150 -w "$tmp/raw.wav" "$2"
  sox "$tmp/raw.wav" -r 16000 -c 1 -b 16 "$3" gain -n -3 silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
}

# Mandarin: 请 N 号 到 <科室> N 诊室
say cmn "请" "$out/zh/qing.wav"
say cmn "号" "$out/zh/hao.wav"
say cmn "到" "$out/zh/dao.wav"
say cmn "诊室" "$out/zh/zhenshi.wav"
say cmn "十" "$out/zh/shi.wav"
say cmn "百" "$out/zh/bai.wav"
say cmn "千" "$out/zh/qian.wav"
digits=(零 一 二 三 四 五 六 七 八 九)
for i in "${!digits[@]}"; do say cmn "${digits[$i]}" "$out/zh/$i.wav"; done

# English: Number N, please go to <department>, room N
say en-gb "number" "$out/en/number.wav"
say en-gb "please go to" "$out/en/please_go_to.wav"
say en-gb "room" "$out/en/room.wav"
say en-gb "hundred" "$out/en/hundred.wav"
words=(zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen seventeen eighteen nineteen)
for i in "${!words[@]}"; do say en-gb "${words[$i]}" "$out/en/$i.wav"; done
tens=([20]=twenty [30]=thirty [40]=forty [50]=fifty [60]=sixty [70]=seventy [80]=eighty [90]=ninety)
for n in "${!tens[@]}"; do say en-gb "${tens[$n]}" "$out/en/$n.wav"; done

# The demo clinic's departments (a site records its own: zh/dept_CODE.wav, en/dept_CODE.wav).
while IFS='|' read -r code zh en; do
  say cmn "$zh" "$out/zh/dept_$code.wav"
  say en-gb "$en" "$out/en/dept_$code.wav"
done <<'DEPTS'
NK|内科|Internal Medicine
WK|外科|Surgery
EK|儿科|Paediatrics
FK|妇科|Gynaecology
KQ|口腔科|Dentistry
DEPTS

# The chime: two soft tones, high then low.
sox -n -r 16000 -c 1 -b 16 "$tmp/a.wav" synth 0.22 sine 988 fade q 0.01 0.22 0.12 vol 0.5
sox -n -r 16000 -c 1 -b 16 "$tmp/b.wav" synth 0.40 sine 784 fade q 0.01 0.40 0.30 vol 0.5
sox "$tmp/a.wav" "$tmp/b.wav" "$out/chime.wav"
echo "clips in $out: $(find "$out" -name '*.wav' | wc -l)"
