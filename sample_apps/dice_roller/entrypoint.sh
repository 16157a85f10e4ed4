#!/bin/sh
# Start-up for the dice roller: defaults for its settings, then the server (exec: it becomes PID 1).
set -e
: "${DICE_SIDES:=6}"
export DICE_SIDES
echo "dice_roller: ${DICE_SIDES}-sided dice, starting: $*"
exec "$@"
