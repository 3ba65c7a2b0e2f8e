"""Every constant of the audio front end and of the audio encoders' input/output layout.

Modelled on Google's ``vggish_params.py`` (and YAMNet's ``params.py``): the front end is the
one both models were trained with, so these values are not tuning knobs. Change them and the
pretrained weights no longer see the features they expect.
"""

# Waveform.
SAMPLE_RATE = 16000  # Hz; both VGGish and YAMNet were trained at 16 kHz.
# Rates outside this range are treated as a corrupt header, not as audio to resample.
MIN_INPUT_SAMPLE_RATE = 1000  # Hz
MAX_INPUT_SAMPLE_RATE = 768000  # Hz
# Shorter than one STFT window there is not a single spectral frame: such a file is rejected.
MIN_DURATION_SECONDS = 0.025
# soxr quality preset used for resampling ("HQ": 20-bit precision, ~ -120 dB alias rejection).
RESAMPLE_QUALITY = "HQ"

# STFT / log-mel (identical for VGGish and YAMNet except the log offset).
STFT_WINDOW_LENGTH_SECONDS = 0.025  # 400 samples at 16 kHz, periodic Hann
STFT_HOP_LENGTH_SECONDS = 0.010  # 160 samples -> 100 frames per second
NUM_MEL_BINS = 64
MEL_MIN_HZ = 125.0
MEL_MAX_HZ = 7500.0
MEL_BREAK_FREQUENCY_HERTZ = 700.0  # HTK mel scale: mel = 1127 ln(1 + f / 700)
MEL_HIGH_FREQUENCY_Q = 1127.0
LOG_OFFSET = 0.01  # VGGish: log(mel + 0.01) avoids log(0)
YAMNET_LOG_OFFSET = 0.001  # YAMNet uses a smaller offset

# Patches ("examples" in VGGish's code): 96 frames x 64 bands = 0.96 s.
NUM_FRAMES = 96
NUM_BANDS = NUM_MEL_BINS
EXAMPLE_WINDOW_SECONDS = 0.96
EXAMPLE_HOP_SECONDS = 0.96  # VGGish: non-overlapping patches
YAMNET_PATCH_HOP_SECONDS = 0.48  # YAMNet: 50 % overlap

# VGGish network and post-processor.
EMBEDDING_SIZE = 128
PCA_EIGEN_VECTORS_NAME = "pca_eigen_vectors"
PCA_MEANS_NAME = "pca_means"
QUANTIZE_MIN_VAL = -2.0
QUANTIZE_MAX_VAL = +2.0
VGGISH_NUM_PARAMETERS = 72_141_184  # the published architecture, for checks

# YAMNet (TFLite) layout.
YAMNET_EMBEDDING_SIZE = 1024
YAMNET_NUM_CLASSES = 521
YAMNET_EMBEDDING_TENSOR = "yamnet_frames/global_average_pooling2d/Mean"
YAMNET_LOGITS_TENSOR = "yamnet_frames/dense/BiasAdd"
# One patch of waveform: 96 frames need 95 hops + one window = 0.975 s = 15 600 samples.
YAMNET_INPUT_SAMPLES = int(
    round((EXAMPLE_WINDOW_SECONDS + STFT_WINDOW_LENGTH_SECONDS - STFT_HOP_LENGTH_SECONDS) * SAMPLE_RATE)
)
