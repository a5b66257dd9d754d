"""SIM Toolkit (ETSI TS 102 223, 3GPP TS 31.111): TLVs, proactive commands, envelopes, text.

Sans-I/O: bytes in, frozen dataclasses out.

- ``tags``: THE tag table (Tag, BerTag, CommandType, DeviceIdentity, GeneralResult, ...)
- ``tlv``: BER-TLV and COMPREHENSION-TLV framing, a streaming BER-TLV reader
- ``text`` / ``dcs``: GSM 7-bit and UCS2 alpha forms / text strings with a DCS
- ``ies``: the simple TLV data objects, registered per container (``ie_base``)
- ``commands``: proactive commands; ``envelopes``: MENU SELECTION, SMS-PP DOWNLOAD;
  ``terminal_response``; ``terminal_profile``; ``apdu``: the APDUs around them
- ``describe``: recognise and describe any of the above; ``conformance``: vector checks
- ``errors``: StkError and its subclasses, each with its general result and status word
"""
