"""A realistic demo team: pipeline, contacts, calendar, discussions, documents and files.

Used by ``bullpen demo`` (with simulated teammates that keep changing things), by the desktop
app's "open a demo workspace", by screenshots and by benchmarks. Seeded from a ``random.Random``
so a given seed always gives the same office.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path
from typing import Any

from bullpen.app.members.identity import Identity
from bullpen.app.workspace import Workspace

TEAM = [("Eli Park", "rep"), ("Fay Moreno", "rep"), ("Gus Tran", "rep")]
ACCOUNTS = [
    "Initech", "Globex", "Umbrella Health", "Stark Logistics", "Wayne Foods", "Hooli",
    "Vandelay Imports", "Soylent Labs", "Tyrell Robotics", "Cyberdyne Systems", "Wonka Retail",
    "Acme Manufacturing", "Nakatomi Trading", "Oscorp Energy", "Pied Piper", "Massive Dynamic",
]
DEAL_KINDS = [
    "renewal", "expansion", "new logo", "pilot", "multi-year upgrade", "add-on seats",
    "analytics module", "support plan",
]
NEXT_STEPS = [
    "Send revised pricing", "Book demo with IT", "Legal review of MSA", "Call champion",
    "Security questionnaire", "Exec sponsor meeting", "Confirm budget owner", "Send proposal",
]
FIRST = ["Ann", "Ben", "Chloe", "Dev", "Emma", "Farid", "Grace", "Hiro", "Ines", "Jon", "Kara",
         "Liam", "Mia", "Noor", "Omar", "Pia", "Quinn", "Rosa", "Sam", "Tess"]
LAST = ["Lee", "Garcia", "Müller", "Okafor", "Rossi", "Nguyen", "Smith", "Kowalski", "Dubois",
        "Haddad", "Ito", "Larsen", "Silva", "Novak"]
JOB = ["CFO", "VP Operations", "IT Director", "Procurement Lead", "Head of Sales", "CTO"]
TOPICS = [
    ("Beating Globex on price", "competitive", [
        "Globex is offering 20% off for 3-year terms this quarter.",
        "We won Hooli by leading with total cost of ownership, not list price.",
        "Their onboarding takes 12 weeks; ours is 3. Lead with that.",
    ]),
    ("Analytics module: customer feedback", "product", [
        "Two customers asked for export to Excel from the dashboard.",
        "Initech loves the forecast view but wants fiscal quarters.",
    ]),
    ("Ideas for Q1 campaigns", "ideas", [
        "Webinar series with our top three references?",
        "Bundle the support plan with renewals that close before Jan 31.",
    ]),
]
ANNOUNCEMENTS = [
    ("Q4 push", "Q4 commit review every Monday 9:00. Update next steps by Friday.", True),
    ("New price list", "The 2027 price list is in the Resource Center.", False),
    ("Welcome Gus", "Gus Tran joins the team covering the north region.", False),
]
DOCUMENTS = [
    ("Initech renewal proposal", "Proposal for Initech\n\nScope: 250 seats, analytics module.\n"
     "Term: 3 years with annual billing.\nPrice: 38 EUR per seat per month.\n"),
    ("Q4 forecast worksheet", "Q4 forecast notes\n\nCommit: Initech, Globex expansion.\n"
     "Best case: Hooli pilot if legal signs by Dec 10.\n"),
    ("Globex battlecard", "Globex battlecard\n\nStrengths: price.\nWeaknesses: onboarding, "
     "support hours.\nOur answer: TCO over 3 years.\n"),
]


def _quarter_dates(today: dt.date, rng: random.Random) -> str:
    return (today + dt.timedelta(days=rng.randint(-30, 150))).isoformat()


def add_teammates(ws: Workspace, names: list[tuple[str, str, str]]) -> None:
    """Signed membership entries for (peer id, name, role); reps join this manager's team."""
    for peer_id, name, role in names:
        ws.add_member(peer_id, role, name)


def seed_demo(
    ws: Workspace,
    *,
    seed: int = 7,
    teammates: list[tuple[str, str, str]] | None = None,
    opportunities: int = 40,
    files_dir: Path | None = None,
) -> None:
    """Fill ``ws`` with a sales team's working set (idempotence is not needed: fresh only)."""
    rng = random.Random(seed)
    today = dt.date.today()
    if teammates is None:
        teammates = [(Identity.generate().peer_id, name, role) for name, role in TEAM]
    add_teammates(ws, teammates)
    owners = [ws.name] + [name for _, name, _ in teammates]
    stages = [s.id for s in ws.stages()]
    contacts = []
    for i in range(25):
        first, last = rng.choice(FIRST), rng.choice(LAST)
        company = ACCOUNTS[i % len(ACCOUNTS)]
        domain = company.split()[0].lower()
        contacts.append(ws.add("contact", {
            "name": f"{first} {last}", "company": company, "title": rng.choice(JOB),
            "emails": [f"{first.lower()}.{last.lower()}@{domain}.example"],
            "phones": [f"+1 555 01{i:02d}"],
        }))
    opp_ids = []
    for i in range(opportunities):
        account = ACCOUNTS[i % len(ACCOUNTS)]
        opp_ids.append(ws.add("opportunity", {
            "account": account,
            "title": f"{account} {rng.choice(DEAL_KINDS)}",
            "amount": rng.choice([12, 18, 25, 40, 60, 85, 120, 250]) * 1000,
            "stage": rng.choice(stages),
            "close_date": _quarter_dates(today, rng),
            "owner": owners[i % len(owners)],
            "next_step": rng.choice(NEXT_STEPS),
            "contact_ids": [contacts[i % len(contacts)]],
        }))
    monday = today - dt.timedelta(days=today.weekday())
    for i in range(12):
        day = monday + dt.timedelta(days=i % 10)
        start = dt.datetime.combine(day, dt.time(9 + (i * 2) % 8, 0))
        ws.add("event", {
            "title": f"{ACCOUNTS[i]} {rng.choice(['demo', 'QBR', 'pricing call', 'kickoff'])}",
            "start": start.isoformat(timespec="minutes"),
            "end": (start + dt.timedelta(hours=1)).isoformat(timespec="minutes"),
            "location": rng.choice(["Zoom", "Teams", "Customer site", "Office"]),
            "attendees": [f"{owners[i % len(owners)].split()[0].lower()}@bullpen.example"],
            "opportunity_id": opp_ids[i % len(opp_ids)],
        })
    _seed_action_items(ws, teammates, opp_ids, today)
    for title, category, posts in TOPICS:
        tid = ws.add("topic", {"title": title, "category": category})
        previous = None
        for n, text in enumerate(posts):
            fields: dict[str, Any] = {"topic_id": tid, "text": text}
            if previous and n == len(posts) - 1:
                fields["reply_to"] = previous
            previous = ws.add("post", fields)
    for title, text, pinned in ANNOUNCEMENTS:
        ws.add("announcement", {"title": title, "text": text, "pinned": pinned})
    for title, text in DOCUMENTS:
        did = ws.new_document(title, text)
        first_line = text.split("\n", 1)[0]
        ws.edit_document(did, style=(0, len(first_line), "heading", 1))
        label = text.find(":")
        if label > len(first_line):  # the first "Label:" of the body in bold
            start = text.rfind("\n", 0, label) + 1
            ws.edit_document(did, style=(start, label + 1, "bold", True))
    if files_dir is not None:
        files_dir.mkdir(parents=True, exist_ok=True)
        price_list = files_dir / "price-list-2027.csv"
        price_list.write_text(
            "product,unit,price_eur\nSeats,per seat per month,38\nAnalytics module,per seat "
            "per month,9\nSupport plan,per year,12000\n", encoding="utf-8")
        ws.add_resource(price_list, description="2027 list prices")


# (text, due in days from today, owner: 0 the demo's user, 1.. its teammates in order)
ACTION_ITEMS = [
    ("Send the revised quote", -2, 1), ("Book the QBR with procurement", 3, 2),
    ("Share the Globex battlecard win story", 6, 3), ("Review Eli's Q4 commit deals", 1, 0),
    ("Chase the signed order form", -5, 0),
]


def _seed_action_items(ws: Workspace, teammates: list[tuple[str, str, str]],
                       opp_ids: list[str], today: dt.date) -> None:
    """Action items from last week's pipeline meeting: the user's and the reps', two late."""
    from bullpen.app.sales.action_items import add_item

    owners = [ws.peer_id] + [peer for peer, _, role in teammates if role != "guest"]
    for i, (text, days, owner) in enumerate(ACTION_ITEMS):
        add_item(ws, text, owners[owner % len(owners)],
                 (today + dt.timedelta(days=days)).isoformat(),
                 deal=opp_ids[i] if i < len(opp_ids) else None)


def _submit_forecast(ws: Workspace, rng: random.Random) -> str | None:
    """The teammate submits its forecast for this quarter: its deals' commit and best case,
    with a rep's judgement on top (None: not now)."""
    from bullpen.app.sales import submissions
    from bullpen.app.sales import use_cases as sales

    try:
        row = sales.forecast(ws, None, "owner", auto_snapshot=False).row(ws.name)
    except KeyError:
        return None  # no deals this quarter
    if row.amounts is None or ws.role() not in ("rep", "manager"):
        return None
    period = sales.period_of(None).label
    done = any(r.get("rep") == ws.peer_id and r.get("period") == period
               for r in ws.list(submissions.SUBMISSION))
    if done and rng.random() > 0.2:  # a rep resubmits now and then, not at every step
        return None
    commit = round(row.amounts.commit * rng.choice([0.8, 0.9, 1.0, 1.1]), -3)
    best = max(commit, round(row.amounts.best_case * rng.choice([0.9, 1.0]), -3))
    submissions.submit(ws, commit, best, rng.choice(["", "Initech slips if legal is slow",
                                                      "Hooli pilot counted in best case"]))
    return "submitted a forecast"


def simulate_step(ws: Workspace, rng: random.Random) -> str:
    """One realistic teammate action; returns a short description (for logs)."""
    action = rng.choice(["stage", "stage", "next_step", "post", "doc", "amount", "forecast"])
    if action == "forecast":
        submitted = _submit_forecast(ws, rng)
        if submitted:
            return submitted
        action = "next_step"
    opps = ws.list("opportunity", owner=ws.name) or ws.list("opportunity")
    if action in ("stage", "next_step", "amount") and opps:
        opp = rng.choice(opps)
        if action == "stage":
            stages = [s.id for s in ws.stages()]
            position = stages.index(opp["stage"]) if opp["stage"] in stages else 0
            new = stages[min(position + 1, len(stages) - 2)]
            ws.update(opp["id"], {"stage": new})
            return f"moved {opp['title']} to {new}"
        if action == "amount":
            ws.update(opp["id"], {"amount": round(opp["amount"] * rng.choice([0.9, 1.1, 1.2]))})
            return f"re-priced {opp['title']}"
        ws.update(opp["id"], {"next_step": rng.choice(NEXT_STEPS)})
        return f"updated next step of {opp['title']}"
    if action == "post":
        topics = ws.list("topic")
        if topics:
            topic = rng.choice(topics)
            ws.add("post", {"topic_id": topic["id"], "text": rng.choice([
                "Just heard the same from a prospect this morning.",
                "Customer reference call went well, sharing notes tomorrow.",
                "Anyone has a recent security questionnaire we can reuse?",
                "Pricing objection handled with the 3-year TCO slide.",
            ])})
            return f"posted in {topic['title']}"
    documents = ws.list("document")
    if documents:
        document = rng.choice(documents)
        text = ws.document(document["id"])["text"]
        ws.edit_document(document["id"], splice=(len(text), 0, f"- note from {ws.name}\n"))
        return f"edited {document['title']}"
    return "idle"
