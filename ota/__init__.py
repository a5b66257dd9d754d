"""SIM OTA: SCP80 secured packets (3GPP TS 31.115, ETSI TS 102 225 / 102 226).

Sans-I/O: bytes in, frozen dataclasses out. Used by the gateway (sending role) and by the
emulated card (receiving role). Only ``ota.crypto`` imports ``cryptography``.
"""
