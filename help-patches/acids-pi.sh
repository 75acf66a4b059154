#!/bin/sh
# acids-pi.sh: runs a patch in headless Pd with real-time audio, for a Raspberry Pi 4/5
# (Raspberry Pi OS 64-bit) or any Linux box. No GUI; DSP on once the patch is open.
#
#   sh acids-pi.sh [PATCH.pd]          (default: acids-pi-live.pd beside this script)
#
# Settings (environment):
#   ACIDS_AUDIO    alsa (default) | jack | none (no audio device: for tests)
#   ACIDS_DEV      ALSA device number as Pd counts them (default 1; list them with
#                  `pd -nogui -alsa -listdev -send "pd quit"`)
#   ACIDS_RATE     sample rate (default 44100, rave_demo's own rate: no resampling)
#   ACIDS_BLOCK    audio I/O block (-blocksize, default 64 = one Pd DSP block)
#   ACIDS_AUDIOBUF ALSA buffer in ms (-audiobuf, default 20; raise to 40 on underruns)
#   ACIDS_IN/ACIDS_OUT  channel counts (default 1 in, 2 out)
#   ACIDS_RT       1 (default): -rt, Pd's real-time priority (the user needs rtprio and
#                  memlock limits: group audio, /etc/security/limits.d/audio.conf); 0: -nrt
#   ACIDS_PD       the pd command (default: pd)
#   ACIDS_PD_FLAGS extra flags, e.g. "-send 'some-receiver 1'"
# The externals are found beside this script (an installed acids folder) or one folder up
# (the source tree); the model is found the same way (models/).
set -eu
DIR=$(cd "$(dirname "$0")" && pwd)
PATCH=${1:-$DIR/acids-pi-live.pd}
case $PATCH in /*) ;; *) PATCH=$(pwd)/$PATCH ;; esac
[ -f "$PATCH" ] || { echo "acids-pi: no patch $PATCH" >&2; exit 1; }
AUDIO=${ACIDS_AUDIO:-alsa}
case $AUDIO in
alsa) audio="-alsa -audiodev ${ACIDS_DEV:-1} -audiobuf ${ACIDS_AUDIOBUF:-20}" ;;
jack) audio="-jack -jackname acids" ;;
none) audio="-nosound" ;; # (channel counts would reopen a device on Pd 0.53)
*) echo "acids-pi: ACIDS_AUDIO must be alsa, jack or none" >&2; exit 1 ;;
esac
rt=-rt
[ "${ACIDS_RT:-1}" = 1 ] || rt=-nrt
# -send runs after the patch is loaded: DSP on.
[ "$AUDIO" = none ] || audio="$audio -inchannels ${ACIDS_IN:-1} -outchannels ${ACIDS_OUT:-2}"
eval "exec ${ACIDS_PD:-pd} -nogui $rt $audio -r ${ACIDS_RATE:-44100} -blocksize ${ACIDS_BLOCK:-64} -nomidi \
    -path \"\$DIR\" -path \"\$DIR/..\" ${ACIDS_PD_FLAGS:-} -open \"\$PATCH\" -send \"pd dsp 1\""
