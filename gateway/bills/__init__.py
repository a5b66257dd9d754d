"""SMS bills and enterprise notices (seed: 考勤账单、消费帐单通知; 企业短信网关需嵌入一卡通系统).

Sans-I/O core (no asyncio, sockets or database; a test scans their imports):

- ``period``: bill periods (day ``2026-10-31``, ISO week ``2026-W44``, month ``2026-10``) in
  China time;
- ``attendance``: an enterprise's shift rules and a member's attendance summary (days present,
  late, early leave, absent) from attendance punches;
- ``consumption``: a member's consumption summary (count, total, balance) from purchase, undo
  and top-up records;
- ``render``: jinja2 templates (sandboxed) per enterprise and kind, signature 【...】 and opt-out
  text, segment counting with ``smpp.text``;
- ``csvnotice``: the standard CSV templates of enterprise notices (计件工资, 工资条, 通知),
  decoded from UTF-8 or GBK, validated row by row;
- ``keywords``: MO keywords (TD / R: opt out; DY: opt back in);
- ``policy``: quiet hours and per-enterprise send rates.

Adapters: ``store`` (queries), ``runs`` (bill runs as resumable jobs), ``config`` (templates,
settings, schedules), ``optouts`` (the opt-out list and the MO keyword handler), ``notices``
(CSV upload, validation report, sending), ``dispatch`` (the outbox dispatcher's per-enterprise
quiet hours and rate limit).
"""
