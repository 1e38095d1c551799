#!/usr/bin/env bash
# Build the side venv that runs the reference tools gentools' audio metrics are checked against, and write
# their outputs to tests/fixtures/audio_reference.npz and clap_reference.npz (committed; the tests read them, they
# never run this).
#
# fadtk and kadtk import torchaudio and pin numpy<2; torchaudio's releases stop at 2.11 and do not load beside
# the torch 2.14 gentools installs. So they live here, in their own venv, with torch 2.5.1 + torchaudio 2.5.1
# (a CUDA build from PyPI: about 5 GB, 10 minutes). fadtk and kadtk are installed without their dependencies
# (msclap, encodec, nnaudio, ... are for models these references do not run); what their fad.py, utils.py and
# kad.py import is listed below, and laion-clap 1.1.7 (numpy<2 too) for fadtk's CLAPLaionModel.
#
#   bash benchmarks/audio_reference/make_venv.sh            # venv in .audio-ref-venv (ignored by git)
#   AUDIO_REF_VENV=/somewhere bash benchmarks/audio_reference/make_venv.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV="${AUDIO_REF_VENV:-.audio-ref-venv}"
test -x "$VENV/bin/python" || python3 -m venv "$VENV"
PIP="$VENV/bin/pip install --quiet --disable-pip-version-check"
$PIP torch==2.5.1 torchaudio==2.5.1 torchvision==0.20.1
# laion_clap's imports besides these: h5py, braceexpand, pandas, webdataset, wget, ftfy, regex (clap_module/utils.py,
# training/data.py); pinned with numpy so that nothing lifts numpy past 1.26.
$PIP "numpy==1.26.4" "scipy==1.14.1" "soundfile==0.14.0" "librosa==0.11.0" "hypy-utils==1.0.29" tqdm \
     "transformers==4.57.6" "torchlibrosa==0.1.0" h5py braceexpand "pandas<3" webdataset wget ftfy regex
$PIP --no-deps "fadtk==1.1.0" "kadtk==1.1.0" "laion-clap==1.1.7"
"$VENV/bin/python" benchmarks/audio_reference/make_reference.py tests/fixtures/audio_reference.npz
HF_HUB_OFFLINE=1 "$VENV/bin/python" benchmarks/audio_reference/make_clap_reference.py tests/fixtures/clap_reference.npz
