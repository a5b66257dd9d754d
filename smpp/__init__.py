"""SMPP 3.4 and SMS: TPDUs and text coding (sans-I/O), the asyncio ESME and the SMSC simulator."""
