# The renderer's start script: prepare its scratch folder, say what runs, then start the server.
set -e
mkdir -p "${SCRATCH:-/tmp/invoices}"
echo "start.sh: scratch folder ${SCRATCH:-/tmp/invoices}, port ${PORT:-8000}"
python main.py
