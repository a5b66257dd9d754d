"""SIM Toolkit (ETSI TS 102 223, 3GPP TS 31.111): TLVs, proactive commands, envelopes, text.

Sans-I/O: bytes in, frozen dataclasses out.
"""
