"""Shared test helpers for the emulated card: fresh cards, OTA senders, APDU shortcuts."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

from ota.keys import OtaKeyset
from ota.onecard_apdu import OneCardCommand, script
from ota.packet import build_command
from ota.por import Por, verify_por
from ota.remote import CompactResponse
from ota.smspp import command_segments
from ota.spi import CounterMode, Integrity, PorRequest, PorTransport, Spi
from sim_emulator.card import SimCard
from sim_emulator.factory import CardSecrets, new_card_state, open_card
from smpp.sms import SmsDeliver
from smpp.sms_fields import Address
from smpp.udh import Udh
from stk.envelopes import SmsPpDownload

SCTS = datetime.datetime(2024, 1, 1, 8, 0, tzinfo=datetime.UTC)
ORIGINATOR = "10658888"
# What the gateway uses for the one-card TAR: ciphered, CC, counter must be higher, PoR
# required, ciphered and CC'd, in the ENVELOPE response.
SPI_STRONG = Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True)
SPI_SUBMIT = Spi(CounterMode.HIGHER, True, Integrity.CC, PorRequest.ALWAYS, Integrity.CC, True,
                 PorTransport.SMS_SUBMIT)


def fresh_card(pin1: str = "1234") -> tuple[SimCard, CardSecrets]:
    state, secrets = new_card_state(pin1=pin1)
    return open_card(state), secrets


def run(card: SimCard, hexapdu: str) -> tuple[bytes, int]:
    response = card.execute(bytes.fromhex(hexapdu.replace(" ", "")))
    assert card.last_internal_error is None, card.last_internal_error
    return response[:-2], int.from_bytes(response[-2:], "big")


def envelopes(packet: bytes, reference: int = 0, originator: str = ORIGINATOR) -> list[bytes]:
    """The SMS-PP DOWNLOAD ENVELOPE APDUs that carry ``packet``."""
    out = []
    for tp_ud in command_segments(packet, reference=reference):
        udh, payload = Udh.decode(tp_ud)
        tpdu = SmsDeliver(Address.parse(originator), SCTS, 0x7F, 0xF6, udh, payload).encode()
        out.append(SmsPpDownload(tpdu=tpdu).to_apdu())
    return out


@dataclass
class OtaSender:
    """The gateway's side of OTA, in process: counter, packets, envelopes, PoR checks."""

    card: SimCard
    keyset: OtaKeyset
    spi: Spi = SPI_STRONG
    counter: int = 0
    responses: list[bytes] = field(default_factory=list)

    def packet(self, tar: bytes, data: bytes, counter: int | None = None) -> bytes:
        if counter is None:
            self.counter += 1
            counter = self.counter
        return build_command(self.spi, self.keyset, tar, counter, data)

    def send_packet(self, packet: bytes) -> tuple[bytes, int]:
        data, sw = b"", 0
        for apdu in envelopes(packet, reference=self.counter & 0xFF):
            response = self.card.execute(apdu)
            assert self.card.last_internal_error is None, self.card.last_internal_error
            data, sw = response[:-2], int.from_bytes(response[-2:], "big")
        return data, sw

    def send(self, tar: bytes, data: bytes, counter: int | None = None) -> Por:
        response, sw = self.send_packet(self.packet(tar, data, counter))
        assert sw == 0x9000, f"{sw:04X}"
        return verify_por(response, self.spi, self.keyset)

    def onecard(self, *commands: OneCardCommand) -> CompactResponse:
        from ota.onecard_apdu import TAR_ONECARD

        por = self.send(TAR_ONECARD, script(*commands))
        assert por.ok, por
        return CompactResponse.decode(por.data)
