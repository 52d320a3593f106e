"""The fixed-point formats of the integer engine: the numbers every implementation must share.

Changing any of these changes the frequency tables, so it changes the archive format: it
needs a new engine version (recorded in model files and archives).

All engine arithmetic is int32 (the quantiser proves every intermediate stays below 2^31):
- h is int8 with scale 1/128 (clamped to +-127).
- A row r of an int8 weight matrix is rescaled as (acc * mult[r] + bias[r]) >> shift[r],
  mult in 1..16, giving a LUT index (gates, steps of 1/256) or a logit (steps of 1/64 nat).
- One table, sigmoid over [-8, 8) in steps of 1/256, Q15; tanh(x) = 2*sigmoid(2x) - 1 is
  read from it too (the g-gate rows are quantised with their inputs doubled).
- c is Q11, clamped to +-16.
- Frequencies: round(2^16 * exp(-d/64)) for d = max logit - logit, at least 1.
"""
ENGINE_VERSION = 1

H_SCALE = 128
LUT_FRAC_BITS = 8
LUT_HALF = 2048
LUT_SIZE = 2 * LUT_HALF
GATE_ONE = 1 << 15
CELL_FRAC_BITS = 11
CELL_MAX = (1 << 15) - 1
LOGIT_FRAC_BITS = 6
EXP_ONE_BITS = 16
EXP_TABLE_SIZE = 1024
MULT_MAX = 16
INT32_LIMIT = 1 << 31
START_BYTE = 10  # the virtual byte before every stream's first byte ('\n')
