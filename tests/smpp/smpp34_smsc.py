"""An SMSC we did not write, for tests/smpp/test_interop.py: the server of the ``smpp34``
package (Rust, MIT), run as its own process. It accepts every submit_sm, answers with a hex
message_id, sends a DELIVRD receipt for it, and prints one JSON line per event on stdout.

    python tests/smpp/smpp34_smsc.py PORT
"""

from __future__ import annotations

import asyncio
import json
import sys

import smpp34


def emit(**event: object) -> None:
    print(json.dumps(event), flush=True)


async def serve(port: int) -> None:
    server = smpp34.Server(host="127.0.0.1", port=port, system_id="SMPP34")
    await server.start()
    emit(event="listening", port=port)
    sessions: dict[str, smpp34.Esme] = {}
    count = 0
    while True:
        event = await server.next()
        if isinstance(event, smpp34.Esme):
            sessions[event.session_id] = event
            emit(event="bound", system_id=event.system_id)
        elif isinstance(event, smpp34.SubmitSmEvent):
            count += 1
            message_id = f"{count:X}"
            event.accept(message_id=message_id)
            emit(
                event="submit",
                message_id=message_id,
                destination=event.destination_addr,
                esm_class=event.esm_class,
                data_coding=event.data_coding,
                short_message=event.short_message.hex(),
            )
            receipt = (
                f"id:{message_id} sub:001 dlvrd:001 submit date:2611251200 "
                f"done date:2611251201 stat:DELIVRD err:000 text:"
            ).encode()
            answer = await sessions[event.session_id].deliver_sm(
                destination_addr=event.source_addr,
                source_addr=event.destination_addr,
                esm_class=0x04,
                short_message=receipt,
                tlvs=[
                    smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"),
                    smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, b"\x02"),
                ],
            )
            emit(event="receipt_answered", status=answer.command_status)
        elif isinstance(event, smpp34.Unbound):
            emit(event="unbound")


if __name__ == "__main__":
    asyncio.run(serve(int(sys.argv[1])))
