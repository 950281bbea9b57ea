"""``serve --demo``: a simulator of CRM traffic so a fresh install shows life.

One greenlet publishes through ``system.events`` (the same validation as REST): messages with typing
and delivery receipts, campaigns with progress, a lead pipeline, contact updates, rare alerts, a
statistics push each second, and now and then a stored notification through the notification
center. It uses a fixed set of rooms (``rooms``) so the dashboard knows what to follow, and stays
under ``MAX_EVENTS_PER_SECOND``.
"""

from __future__ import annotations

import logging
import random
import time
from typing import Any

import gevent

from actors import ActorSystem, EventService, Identity
from actors.errors import RealtimeError

log = logging.getLogger("realtime.demo")

MAX_EVENTS_PER_SECOND = 12
CONTACTS = {"101": "Acme Corp", "102": "Globex", "103": "Initech", "104": "Umbrella", "105": "Stark Ind.",
            "106": "Wayne Ent."}
CAMPAIGNS = {"1": "Black Friday", "2": "Spring newsletter", "3": "Win-back", "4": "Product launch"}
LEAD_IDS = [str(n) for n in range(501, 525)]
AGENTS = ("2", "3")
INBOUND = ("Hi, is my order on its way?", "Can I change the delivery address?", "Do you ship to Norway?",
           "The invoice shows the wrong VAT number.", "Thanks, that solved it!", "Is there a discount for 50 seats?",
           "When does the sale end?", "I'd like to talk to someone about pricing.")
OUTBOUND = ("It ships today.", "Done, the address is updated.", "Yes, 3-5 working days.",
            "I've sent a corrected invoice.", "Happy to help!", "Yes: 15% from 20 seats.", "Sunday midnight.",
            "I'll call you in 10 minutes.")
SOURCES = ("web form", "chat", "referral", "trade show", "cold call")
LEAD_NAMES = ("Northwind", "Contoso", "Fabrikam", "Tailspin", "Wingtip", "Proseware", "Litware", "Adatum",
              "Lucerne", "Margie's Travel", "Alpine Ski", "Coho Winery")


class Demo:
    """Start with ``Demo(system).start()``; ``stop()`` ends the greenlet (and the ones it spawned)."""

    def __init__(self, system: ActorSystem, seed: int | None = None, pace: float = 1.0) -> None:
        self.system = system
        self.events = EventService(system, wait=False)
        self.random = random.Random(seed)
        self.pace = pace
        self.rooms = (["stats:dashboard"] + [f"contact:{c}" for c in CONTACTS] + [f"campaign:{c}" for c in CAMPAIGNS]
                      + [f"lead:{lead}" for lead in LEAD_IDS])
        self.published = 0
        self._greenlets: list[gevent.Greenlet] = []
        self._campaigns: dict[str, dict[str, int]] = {}
        self._leads: dict[str, str] = {}  # lead id -> stage
        self._message_seq = 0
        self._stats = {"totalContacts": 1520, "openLeads": 87, "messagesToday": 412, "activeCampaigns": 0,
                       "conversionRate": 12.4, "avgResponseSeconds": 94}
        self._window: list[float] = []

    def start(self) -> Demo:
        self._greenlets.append(gevent.spawn(self._run))
        log.info("demo traffic on: %d rooms (stats, contacts, campaigns, leads)", len(self.rooms))
        return self

    def stop(self) -> None:
        gevent.killall([g for g in self._greenlets if not g.dead], block=True, timeout=2)
        self._greenlets.clear()

    # --- the loop --------------------------------------------------------------------------------

    def _run(self) -> None:
        next_stats = next_alert = next_notification = time.monotonic()
        next_alert += 20
        next_notification += 4
        actions = ((self._conversation, 5), (self._campaign_step, 4), (self._lead_step, 4), (self._contact, 1))
        choices = [action for action, weight in actions for _ in range(weight)]
        while True:
            now = time.monotonic()
            try:
                if now >= next_stats:
                    self._push_stats()
                    next_stats = now + 1.0
                if now >= next_alert:
                    self._alert()
                    next_alert = now + self.random.uniform(25, 50)
                if now >= next_notification:
                    self._spawn(self._notify)
                    next_notification = now + self.random.uniform(6, 12)
                self.random.choice(choices)()
            except RealtimeError as exc:  # a validation slip must not end the demo
                log.warning("demo event refused: %s", exc)
            gevent.sleep(self.random.uniform(0.25, 0.7) * self.pace)

    def _publish(self, method: str, *args: Any, **kwargs: Any) -> None:
        """Publish through the EventService, keeping under MAX_EVENTS_PER_SECOND (drops, never queues)."""
        now = time.monotonic()
        self._window = [t for t in self._window if now - t < 1.0]
        if len(self._window) >= MAX_EVENTS_PER_SECOND:
            return
        self._window.append(now)
        getattr(self.events, method)(*args, **kwargs)
        self.published += 1

    def _spawn(self, fn: Any, *args: Any) -> None:
        self._greenlets = [g for g in self._greenlets if not g.dead]
        self._greenlets.append(gevent.spawn(fn, *args))

    # --- traffic ---------------------------------------------------------------------------------

    def _conversation(self) -> None:
        contact = self.random.choice(list(CONTACTS))
        self._message_seq += 1
        message_id = f"demo-{self._message_seq}"
        self._publish("message_received", contact, message_id, self.random.choice(INBOUND), channel=self.random.choice(
            ("whatsapp", "sms", "email")), direction="INBOUND", contactName=CONTACTS[contact])
        self._stats["messagesToday"] += 1
        self._spawn(self._reply, contact)

    def _reply(self, contact: str) -> None:
        agent = self.random.choice(AGENTS)
        gevent.sleep(self.random.uniform(0.8, 2.0) * self.pace)
        self._publish("typing_start", contact, agent)
        gevent.sleep(self.random.uniform(1.0, 2.5) * self.pace)
        self._publish("typing_stop", contact, agent)
        self._message_seq += 1
        message_id = f"demo-{self._message_seq}"
        self._publish("message_sent", contact, message_id, self.random.choice(OUTBOUND), channel="whatsapp",
                      direction="OUTBOUND", contactName=CONTACTS[contact], sentBy=agent)
        self._stats["messagesToday"] += 1
        for status in ("DELIVERED", "READ"):
            gevent.sleep(self.random.uniform(0.5, 2.0) * self.pace)
            self._publish("message_status_update", contact, message_id, status)

    def _campaign_step(self) -> None:
        idle = [c for c in CAMPAIGNS if c not in self._campaigns]
        if len(self._campaigns) < 2 and idle:
            campaign = self.random.choice(idle)
            total = self.random.choice((800, 1200, 2500, 5000))
            self._campaigns[campaign] = {"sent": 0, "failed": 0, "total": total}
            self._publish("campaign_started", campaign, name=CAMPAIGNS[campaign], total=total)
            return
        if not self._campaigns:
            return
        campaign = self.random.choice(list(self._campaigns))
        state = self._campaigns[campaign]
        step = max(1, int(state["total"] * self.random.uniform(0.03, 0.09)))
        state["sent"] = min(state["total"], state["sent"] + step)
        state["failed"] += self.random.randint(0, max(1, step // 40))
        percent = round(100 * state["sent"] / state["total"], 1)
        if self.random.random() < 0.01:
            del self._campaigns[campaign]
            self._publish("campaign_failed", campaign, "SMS provider quota exceeded", name=CAMPAIGNS[campaign])
            return
        self._publish("campaign_progress", campaign, state["sent"], state["total"], failed=state["failed"],
                      percent=percent, name=CAMPAIGNS[campaign])
        if state["sent"] >= state["total"]:
            del self._campaigns[campaign]
            self._publish("campaign_completed", campaign, sent=state["sent"] - state["failed"],
                          failed=state["failed"], total=state["total"], name=CAMPAIGNS[campaign])

    def _lead_step(self) -> None:
        lead = self.random.choice(LEAD_IDS)
        stage = self._leads.get(lead)
        name = LEAD_NAMES[int(lead) % len(LEAD_NAMES)]
        if stage is None:
            self._leads[lead] = "NEW"
            self._stats["openLeads"] += 1
            self._publish("lead_created", lead, name=name, source=self.random.choice(SOURCES), status="NEW")
        elif stage == "NEW":
            self._leads[lead] = "QUALIFIED"
            self._publish("lead_updated", lead, {"status": "QUALIFIED"}, status="QUALIFIED", name=name)
        elif stage == "QUALIFIED":
            self._leads[lead] = "ASSIGNED"
            self._publish("lead_assigned", lead, self.random.choice(AGENTS), assigned_by="1", name=name)
        else:
            del self._leads[lead]
            self._stats["openLeads"] = max(0, self._stats["openLeads"] - 1)
            if self.random.random() < 0.6:
                self._publish("lead_converted", lead, contact_id=self.random.choice(list(CONTACTS)),
                              value=self.random.choice((1200, 4800, 12000, 30000)), name=name)
                self._stats["totalContacts"] += 1

    def _contact(self) -> None:
        contact = self.random.choice(list(CONTACTS))
        field, value = self.random.choice((("phone", f"+1 555 01{self.random.randint(10, 99)}"),
                                           ("tier", self.random.choice(("gold", "silver", "bronze"))),
                                           ("owner", self.random.choice(AGENTS))))
        self._publish("contact_updated", contact, {field: value}, name=CONTACTS[contact])

    def _alert(self) -> None:
        level, message = self.random.choice((("warning", "SMS provider latency above 2 s"),
                                             ("info", "Nightly export finished"),
                                             ("error", "Webhook to billing failed 3 times")))
        self._publish("system_alert", level, message, source="demo")

    def _push_stats(self) -> None:
        stats = self._stats
        stats["activeCampaigns"] = len(self._campaigns)
        drift = stats["conversionRate"] + self.random.uniform(-0.3, 0.3)
        stats["conversionRate"] = round(max(5.0, min(30.0, drift)), 1)
        stats["avgResponseSeconds"] = max(20, stats["avgResponseSeconds"] + self.random.randint(-4, 4))
        self.events.stats_update(dict(stats))

    def _notify(self) -> None:
        """A stored notification through the notification center (when the server has a database)."""
        if self.system.notifications is None:
            return
        from actors.notifications.rules import parse_draft

        lead = self.random.choice(LEAD_IDS)
        body: dict[str, Any] = self.random.choice((
            {"userId": self.random.choice(AGENTS), "title": "Lead assigned to you",
             "message": f"{LEAD_NAMES[int(lead) % len(LEAD_NAMES)]} (lead {lead}) is yours", "type": "LEAD_ASSIGNED",
             "priority": "HIGH", "data": {"leadId": lead}, "link": f"/leads/{lead}"},
            {"role": "EMPLOYEE", "title": "Campaign finished", "message": "Spring newsletter reached 2,480 contacts",
             "type": "CAMPAIGN_COMPLETED", "priority": "NORMAL"},
            {"userId": self.random.choice(AGENTS), "title": "Customer waiting",
             "message": "Umbrella has waited 10 minutes for an answer", "type": "sla.breach", "priority": "URGENT"},
            {"role": "ADMIN", "title": "Webhook failing", "message": "Billing webhook failed 3 times",
             "type": "SYSTEM_ALERT", "priority": "HIGH"},
            {"userId": self.random.choice(AGENTS), "title": "New comment", "message": "Ada mentioned you on Globex",
             "type": "comment", "priority": "LOW"},
        ))
        caller = Identity(user_id="demo", role="ADMIN", exp=int(time.time()) + 60)
        try:
            self.system.create_notifications(caller, parse_draft(body, self.system.settings.roles), None)
        except RealtimeError as exc:
            log.warning("demo notification refused: %s", exc)
