"""The host stages of block methods 1 and 3-9 (numpy and CPU torch, one block at a time).

Frozen: every config version (BIAS_V1..V6, MATCH_V1..V6) is part of the archive format, and
the device stages of lstmzip.stages reproduce V1/V2's integers (tested step by step).
"""
