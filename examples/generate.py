#!/usr/bin/env python3
"""Write the example logs: `python3 examples/generate.py [--seed 7] [--out DIR]`.

Standard library only and fully seeded: the same seed gives byte-identical files.

- logs.jsonl: three workloads of an online hardware store, in the log schema (one record per line, oldest first):
  tool_router (a customer-support router over six tools), chat_assistant (DIY answers) and summarizer.
- shorthand.jsonl: a small FAQ bot in the `{"messages": [...]}` shorthand, to ingest with --workload-id.
"""

from __future__ import annotations

import argparse
import json
import random
import string
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

MODEL = "meta/llama-3.3-70b-instruct"
STORE = "Ridgeline Hardware"
START = int(datetime(2026, 3, 2, tzinfo=timezone.utc).timestamp())
DAYS = 21
# Traffic by UTC hour: quiet overnight in the US, busiest in its afternoon and evening.
HOUR_WEIGHTS = [6, 5, 4, 3, 2, 1, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 10, 9, 9, 10, 10, 9, 8]

Record = dict[str, Any]
Message = dict[str, Any]


# --- the tool router's tools ----------------------------------------------------------------------------------

def _tool(name: str, description: str, properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {
            "name": name,
            "description": description,
            "parameters": {"type": "object", "properties": properties, "required": required},
        },
    }


ORDER_ID = {"type": "string"}
RETURN_REASONS = ["damaged", "defective", "wrong_item", "not_as_described", "no_longer_needed"]
CARRIERS = ["ups", "fedex", "usps", "dhl"]
PRIORITIES = ["low", "normal", "high", "urgent"]

TOOLS = [
    _tool(
        "lookup_order_status",
        "Status and items of an order (id like HW-482913).",
        {"order_id": ORDER_ID, "include_items": {"type": "boolean"}},
        ["order_id"],
    ),
    _tool(
        "start_return",
        "Open a return for a delivered order; items are SKUs, default all.",
        {
            "order_id": ORDER_ID,
            "reason": {"type": "string", "enum": RETURN_REASONS},
            "items": {"type": "array", "items": {"type": "string"}},
            "refund_method": {"type": "string", "enum": ["original_payment", "store_credit"]},
        },
        ["order_id", "reason"],
    ),
    _tool(
        "product_qa",
        "Answer a question about a product.",
        {
            "product": {"type": "string"},
            "question": {"type": "string"},
        },
        ["product", "question"],
    ),
    _tool(
        "track_shipment",
        "Carrier tracking for a package.",
        {"tracking_number": {"type": "string"}, "carrier": {"type": "string", "enum": CARRIERS}},
        ["tracking_number"],
    ),
    _tool(
        "update_shipping_address",
        "Change the full delivery address of an unshipped order.",
        {
            "order_id": ORDER_ID,
            "address": {"type": "string"},
        },
        ["order_id", "address"],
    ),
    _tool(
        "escalate_to_human",
        "Hand over to a human agent.",
        {
            "summary": {"type": "string"},
            "priority": {"type": "string", "enum": PRIORITIES},
            "order_id": ORDER_ID,
            "channel": {"type": "string", "enum": ["chat", "email", "phone"]},
        },
        ["summary", "priority"],
    ),
]

ROUTER_SYSTEM = (
    f"You are {STORE}'s online support assistant. Use the tools; never invent order details. "
    "If no tool fits, answer briefly."
)

# --- vocabulary -----------------------------------------------------------------------------------------------

NAMES = [
    "Priya", "Marcus", "Elena", "Dave", "Keisha", "Tom", "Yuki", "Carlos", "Fatima", "Brian", "Ingrid", "Jamal",
    "Sofia", "Greg", "Mei", "Ravi", "Hannah", "Luis", "Aisha", "Pete", "Olga", "Kevin", "Nia", "Sam", "Chloe",
    "Diego", "Rosa", "Ethan", "Amara", "Frank",
]
# (name, category, sku)
PRODUCTS = [
    ("TorqueMax 20V cordless drill", "cordless", "TMX-DR20"),
    ("TorqueMax 20V impact driver", "cordless", "TMX-ID20"),
    ("TorqueMax 20V reciprocating saw", "cordless", "TMX-RS20"),
    ("Kestrel 18V brushless angle grinder", "cordless", "KST-AG18"),
    ("Kestrel 18V orbital sander", "cordless", "KST-OS18"),
    ("Brightline 7-1/4 in. circular saw", "saw", "BRL-CS725"),
    ("Brightline 10 in. table saw", "saw", "BRL-TS10"),
    ("Brightline 12 in. sliding miter saw", "saw", "BRL-MS12"),
    ("Ridgeway 6 ft fiberglass step ladder", "ladder", "RDW-SL6"),
    ("Ridgeway 22 ft multi-position ladder", "ladder", "RDW-ML22"),
    ("Harbor & Pine interior eggshell paint (1 gal)", "paint", "HPP-IE1"),
    ("Harbor & Pine exterior satin paint (5 gal)", "paint", "HPP-ES5"),
    ("SealPro deck stain, cedar tone (1 gal)", "paint", "SPR-DS1"),
    ("FlowRite pull-down kitchen faucet", "plumbing", "FLR-KF200"),
    ("FlowRite 50 gal electric water heater", "plumbing", "FLR-WH50"),
    ("FlowRite PEX crimp tool kit", "plumbing", "FLR-PX1"),
    ("Greenfield 21 in. self-propelled mower", "outdoor", "GRF-SP21"),
    ("Greenfield 40V cordless leaf blower", "outdoor", "GRF-LB40"),
    ("Greenfield 16 in. chainsaw", "outdoor", "GRF-CS16"),
    ("Ironclad 46 in. rolling tool chest", "storage", "IRC-TC46"),
    ("Ironclad 5-shelf steel garage shelving", "storage", "IRC-GS5"),
    ("Stanbury 25 ft tape measure", "hand", "STB-TM25"),
    ("Stanbury 230-piece mechanics tool set", "hand", "STB-MT230"),
    ("Stanbury 16 oz claw hammer", "hand", "STB-CH16"),
    ("Voltline smart Wi-Fi light switch", "electrical", "VLT-SW1"),
    ("Voltline 50 ft 12-gauge extension cord", "electrical", "VLT-EC50"),
    ("Voltline digital multimeter", "electrical", "VLT-MM2"),
    ("ClearView cross-line laser level", "hand", "CLV-LL2"),
    ("AirForge 6 gal pancake air compressor", "compressor", "AFG-PC6"),
    ("AirForge 18-gauge brad nailer", "compressor", "AFG-BN18"),
]
QUESTIONS: dict[str, list[tuple[str, str]]] = {
    # (how the customer asks, with {p} for the product; how the router restates it)
    "any": [
        ("What's the warranty on the {p}?", "How long is the warranty?"),
        ("what comes in the box with the {p}", "What is included in the box?"),
        ("How much does the {p} weigh?", "What does it weigh?"),
        ("Can I get replacement parts for the {p} if something breaks?", "Are replacement parts available?"),
        ("Is the {p} any good for a beginner?", "Is it suitable for beginners?"),
    ],
    "cordless": [
        ("Does the {p} come with a battery and charger or is it tool-only?", "Are a battery and charger included?"),
        ("Will my Kestrel 18V batteries work in the {p}?", "Is it compatible with Kestrel 18V batteries?"),
        ("Is the {p} brushless?", "Does it have a brushless motor?"),
        ("How long does the battery last on the {p}?", "What is the battery runtime?"),
        ("What's the max torque of the {p}?", "What is the maximum torque?"),
    ],
    "saw": [
        ("Can the {p} cut aluminum?", "Can it cut aluminum?"),
        ("What blade size does the {p} take?", "What blade size does it use?"),
        ("Does the {p} have a dust port I can hook a shop vac to?", "Does it have a dust collection port?"),
        ("What's the max cutting depth of the {p} at 45 degrees?", "What is the maximum bevel cut depth at 45°?"),
    ],
    "ladder": [
        ("What's the weight rating on the {p}?", "What is the load rating?"),
        ("If I'm 6 ft tall how high can I reach with the {p}?", "What is the maximum reach height?"),
        ("Is the {p} safe to use near power lines?", "Is it non-conductive?"),
    ],
    "paint": [
        ("How many square feet does the {p} cover?", "What is the coverage per container?"),
        ("How long does the {p} take to dry between coats?", "What is the recoat time?"),
        ("Can the {p} be tinted to a custom color?", "Can it be tinted?"),
        ("Do I need a primer with the {p}?", "Is a primer required?"),
    ],
    "plumbing": [
        ("Does the {p} fit a standard 1/2 in. supply line?", "Does it fit 1/2 in. supply lines?"),
        ("Is the {p} lead-free?", "Is it lead-free certified?"),
        ("Can I install the {p} myself or do I need a plumber?", "Can a homeowner install it?"),
    ],
    "outdoor": [
        ("How loud is the {p}? My HOA has noise rules.", "What is the noise level in decibels?"),
        ("Does the {p} need mixed fuel?", "What fuel or power does it need?"),
        ("Is the {p} good for a half-acre lot?", "Is it suitable for a half-acre yard?"),
    ],
    "storage": [
        ("What are the exact dimensions of the {p}?", "What are the dimensions?"),
        ("How much weight can each shelf or drawer of the {p} hold?", "What is the load capacity per shelf or drawer?"),
        ("Does the {p} come assembled?", "Does it arrive assembled?"),
    ],
    "hand": [
        ("Is the {p} covered by a lifetime warranty?", "Does it have a lifetime warranty?"),
        ("Are the markings on the {p} metric and imperial?", "Does it have metric and imperial markings?"),
    ],
    "electrical": [
        ("Does the {p} need a neutral wire?", "Does it require a neutral wire?"),
        ("Is the {p} rated for outdoor use?", "Is it rated for outdoor use?"),
        ("Does the {p} work with Google Home?", "Is it compatible with Google Home?"),
    ],
    "compressor": [
        ("What's the max PSI on the {p}?", "What is the maximum pressure?"),
        ("Can I run a framing nailer off the {p}?", "Can it power a framing nailer?"),
    ],
}
CITIES = [
    ("Columbus", "OH", "432"), ("Austin", "TX", "787"), ("Denver", "CO", "802"), ("Raleigh", "NC", "276"),
    ("Tacoma", "WA", "984"), ("Madison", "WI", "537"), ("Tucson", "AZ", "857"), ("Albany", "NY", "122"),
    ("Boise", "ID", "837"), ("Richmond", "VA", "232"), ("Omaha", "NE", "681"), ("Portland", "ME", "041"),
    ("Savannah", "GA", "314"), ("Fresno", "CA", "937"), ("Lexington", "KY", "405"),
]
STREETS = ["Maple Ave", "Oak St", "Ridge Rd", "Cedar Ln", "Lakeview Dr", "Main St", "Hillcrest Blvd", "Birch Ct",
           "Elm St", "Sunset Way", "Mill Creek Rd", "Park Pl", "Willow Ln", "2nd St", "Franklin Ave"]
WEEKDAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]
CARRIER_NAMES = {"ups": "UPS", "fedex": "FedEx", "usps": "USPS", "dhl": "DHL"}
POWERED = ("cordless", "saw", "outdoor", "electrical", "compressor")
REASON_PHRASES = {
    "damaged": ["arrived cracked", "showed up dented, the box was crushed", "arrived in pieces",
                "was scratched all over when I opened it"],
    # Defects depend on what the product is: a ladder does not "hold a charge".
    "defective": ["has a broken latch", "wobbles even with every bolt tightened", "came with stripped threads"],
    "defective_powered": ["won't turn on", "stopped working after two uses", "makes a grinding noise",
                          "keeps tripping the breaker"],
    "defective_cordless": ["doesn't hold a charge", "won't turn on", "stopped working after two uses"],
    "defective_paint": ["separated in the can and won't mix", "dried blotchy on every wall"],
    "not_as_described": ["is a lot smaller than the listing said", "isn't the color shown in the photos",
                         "is missing the case the description promised"],
    "no_longer_needed": ["is not needed anymore, a neighbor lent me one", "was a duplicate order",
                         "is no longer needed, I changed my mind"],
}

# --- helpers ----------------------------------------------------------------------------------------------------


class Gen:
    def __init__(self, seed: int) -> None:
        self.rng = random.Random(seed)

    def pick(self, seq: list[Any]) -> Any:
        return self.rng.choice(seq)

    def chance(self, p: float) -> bool:
        return self.rng.random() < p

    def timestamp(self) -> int:
        hour = self.rng.choices(range(24), weights=HOUR_WEIGHTS)[0]
        return START + self.rng.randrange(DAYS) * 86400 + hour * 3600 + self.rng.randrange(3600)

    def call_id(self) -> str:
        return "call_" + self.chars(string.ascii_letters + string.digits, 24)

    def order_id(self) -> str:
        return f"HW-{self.rng.randint(100000, 999999)}"

    def chars(self, alphabet: str, n: int) -> str:
        return "".join(self.rng.choice(alphabet) for _ in range(n))

    def tracking(self) -> tuple[str, str]:
        carrier = self.rng.choices(CARRIERS, weights=[5, 4, 3, 1])[0]
        if carrier == "ups":
            code = "1Z" + self.chars(string.ascii_uppercase + string.digits, 6) + self.chars(string.digits, 10)
        elif carrier == "fedex":
            code = self.chars(string.digits, 12)
        elif carrier == "usps":
            code = "9400" + self.chars(string.digits, 18)
        else:
            code = self.chars(string.digits, 10)
        return code, carrier

    def address(self) -> str:
        city, state, zip3 = self.pick(CITIES)
        street = f"{self.rng.randint(12, 9870)} {self.pick(STREETS)}"
        if self.chance(0.25):
            street += f", Apt {self.rng.randint(1, 30)}{self.pick(['', 'A', 'B', 'C'])}"
        return f"{street}, {city}, {state} {zip3}{self.rng.randint(10, 99)}"

    def product(self, categories: tuple[str, ...] | None = None) -> tuple[str, str, str]:
        return self.pick([p for p in PRODUCTS if categories is None or p[1] in categories])

    def reason_phrase(self, reason: str, category: str) -> str:
        key = reason
        if reason == "defective" and f"defective_{category}" in REASON_PHRASES:
            key = f"defective_{category}"
        elif reason == "defective" and category in POWERED:
            key = "defective_powered"
        return self.pick(REASON_PHRASES[key])


def tokens(obj: Any) -> int:
    # A rough count (4 characters a token) is all the usage block needs to look plausible.
    return max(1, len(json.dumps(obj)) // 4)


def completion(gen: Gen, ts: int, request: dict[str, Any], message: Message, finish_reason: str) -> dict[str, Any]:
    prompt = tokens(request["messages"]) + (tokens(request["tools"]) if "tools" in request else 0)
    answer = tokens(message)
    return {
        "id": f"chatcmpl-{gen.chars(string.hexdigits[:16], 24)}",
        "object": "chat.completion",
        "created": ts - gen.rng.randint(0, 2),
        "model": MODEL,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
        "usage": {"prompt_tokens": prompt, "completion_tokens": answer, "total_tokens": prompt + answer},
    }


def record(workload: str, client: str, ts: int, request: dict[str, Any], response: dict[str, Any]) -> Record:
    return {"timestamp": ts, "workload_id": workload, "client_id": client, "request": request, "response": response}


# --- tool_router ------------------------------------------------------------------------------------------------

Call = tuple[str, dict[str, Any]]  # (tool name, arguments)
Turn = tuple[str, list[Call]]  # (user text, calls)


def ask_order_status(g: Gen) -> Turn:
    oid = g.order_id()
    items = g.chance(0.25)
    if items:
        text = g.pick([
            "What items are in my order {o}? I forgot what I bought.",
            "Can you pull up order {o} and list what's in it?",
            "Which products did I get in {o}? Need it for my expense report.",
        ])
    else:
        text = g.pick([
            "Where is my order {o}?",
            "Hi, can you check the status of order {o}?",
            "I placed order {o} last {day} and haven't heard anything. What's going on?",
            "Has {o} shipped yet?",
            "order status {o}",
            "This is {name}. Could you tell me when order {o} will arrive?",
            "My order number is {o}, is it still processing?",
            "Checking on {o}, the site says pending payment. Is that normal?",
            "when will {o} get here",
            "Hey there, any update on order {o}? It's been a week.",
        ])
    args: dict[str, Any] = {"order_id": oid}
    if items:
        args["include_items"] = True
    return text.format(o=oid, day=g.pick(WEEKDAYS), name=g.pick(NAMES)), [("lookup_order_status", args)]


def ask_return(g: Gen) -> Turn:
    oid = g.order_id()
    name, category, sku = g.product()
    reason = g.pick(RETURN_REASONS)
    args: dict[str, Any] = {"order_id": oid, "reason": reason}
    if reason == "wrong_item":
        other, _, other_sku = g.pick([p for p in PRODUCTS if p[0] != name])
        text = g.pick([
            "You sent me the wrong item in {o}. I ordered the {p} but got the {x}.",
            "Order {o} came with the {x} instead of the {p}. How do I send it back?",
            "wrong item in order {o}!! got {x}, wanted {p}",
        ]).format(o=oid, p=name, x=other)
        args["items"] = [other_sku]  # what goes back is what arrived
    else:
        phrase = g.reason_phrase(reason, category)
        text = g.pick([
            "I need to return the {p} from order {o}, it {r}.",
            "Order {o}: the {p} {r}. I want to send it back for a refund.",
            "How do I return something? Order {o}, the {p} {r}.",
            "Start a return for {o} please, the {p} {r}.",
            "I'd like to return the {p} ({s}) from order {o} because it {r}.",
        ]).format(o=oid, p=name, r=phrase, s=sku)
        if f"({sku})" in text or g.chance(0.3):
            args["items"] = [sku]
    if text[-1] not in ".?!":
        text += "."
    if g.chance(0.2):
        text += " Store credit is fine."
        args["refund_method"] = "store_credit"
    elif g.chance(0.1):
        text += " Please refund it to my card."
        args["refund_method"] = "original_payment"
    return text, [("start_return", args)]


def ask_product(g: Gen) -> Turn:
    name, category, _ = g.product()
    asked, restated = g.pick(QUESTIONS[category] + QUESTIONS["any"])
    text = asked.format(p=name)
    if g.chance(0.5):
        opener = g.pick(["Quick question: ", "Hi! ", "Before I buy: ", "Hey, ", "Hello, ", "One more thing: ",
                         "Thinking about ordering. ", "For a project this weekend: "])
        text = opener + (text[0].lower() + text[1:] if opener.endswith(": ") else text)
    if g.chance(0.35):
        text += "" if text[-1] in ".?!" else "?"
        text += g.pick([" Thanks!", " Thanks in advance.", " Need to know before I order.", " thx",
                        " Can't find it on the product page."])
    return text, [("product_qa", {"product": name, "question": restated})]


def ask_tracking(g: Gen) -> Turn:
    code, carrier = g.tracking()
    named = g.chance(0.4)
    text = g.pick([
        "Can you track {c}?",
        "My tracking number {c} hasn't updated in 3 days.",
        "where is package {c}",
        "Tracking # {c}: when will it arrive?",
        "The {n} tracking for {c} says delivered but nothing is at my door.",
        "Is {c} out for delivery today?",
    ] if not named else [
        "{n} tracking {c} has been stuck for days, can you check?",
        "Can you look up {n} package {c}?",
        "The {n} tracking for {c} says delivered but nothing is at my door.",
    ])
    args: dict[str, Any] = {"tracking_number": code}
    if "{n}" in text:
        args["carrier"] = carrier
    return text.format(c=code, n=CARRIER_NAMES[carrier]), [("track_shipment", args)]


def ask_address(g: Gen) -> Turn:
    oid = g.order_id()
    address = g.address()
    text = g.pick([
        "Please change the shipping address on {o} to {a}.",
        "I moved! Can you send order {o} to {a} instead?",
        "Wrong address on {o}, it should be {a}",
        "Update delivery address for order {o}: {a}",
        "Can order {o} go to my work address? It's {a}.",
    ]).format(o=oid, a=address)
    return text, [("update_shipping_address", {"order_id": oid, "address": address})]


def ask_human(g: Gen) -> Turn:
    oid = g.order_id()
    name, _, _ = g.product(POWERED)
    who = g.pick(NAMES)
    cases: list[tuple[str, dict[str, Any]]] = [
        (g.pick(["I want to talk to a real person.", f"This is {who}, can I speak to a human please?",
                 "Is there a human I can talk to?", f"Hi, {who} here. Please connect me with an agent.",
                 "agent please", "I'd rather talk to a person."]),
         {"summary": "Customer asked to speak with a human agent.", "priority": "normal"}),
        (f"This is the third time I'm contacting you about order {oid}. Get me a manager.",
         {"summary": f"Repeat contact about order {oid}; customer asks for a manager.", "priority": "high",
          "order_id": oid}),
        (f"I was charged twice for order {oid}.",
         {"summary": f"Customer reports a duplicate charge on order {oid}.", "priority": "high", "order_id": oid}),
        (f"The {name} started smoking the first time I used it. Please have someone call me.",
         {"summary": f"Safety incident: {name} smoked on first use; customer requests a call.",
          "priority": "urgent", "channel": "phone"}),
        (f"Can someone email me about a bulk order? My contracting business needs 40 of the {name}.",
         {"summary": f"Bulk order inquiry: 40 x {name} for a contractor.", "priority": "low", "channel": "email"}),
        (f"The delivery driver backed into my fence while dropping off order {oid}.",
         {"summary": f"Property damage by delivery driver during order {oid} drop-off.", "priority": "high",
          "order_id": oid}),
        (g.pick(["None of these answers help. Human please.", "You're not understanding me. I need a person.",
                 f"{who} again. The bot keeps going in circles, get me someone."]),
         {"summary": "Customer is not satisfied with automated answers and asks for an agent.",
          "priority": "normal", "channel": "chat"}),
    ]
    text, args = g.pick(cases)
    return text, [("escalate_to_human", args)]


def ask_two_things(g: Gen) -> Turn:
    oid = g.order_id()
    code, _ = g.tracking()
    name, _, _ = g.product()
    if g.chance(0.5):
        text = f"Can you check order {oid} and also track package {code}?"
        return text, [("lookup_order_status", {"order_id": oid}), ("track_shipment", {"tracking_number": code})]
    text = f"Where's my order {oid}? Also, does the {name} have a warranty?"
    return text, [("lookup_order_status", {"order_id": oid}),
                  ("product_qa", {"product": name, "question": "Does it have a warranty?"})]


ASKS: list[tuple[Callable[[Gen], Turn], int]] = [
    (ask_order_status, 25), (ask_return, 18), (ask_product, 27), (ask_tracking, 14), (ask_address, 8),
    (ask_human, 7), (ask_two_things, 2),
]

SMALL_TALK = [
    (["hi", "Hello there!", "hey"], "Hi! I can help with orders, returns, tracking and product questions. "
                                    "What do you need?"),
    (["Thanks, that's all!", "thank you so much", "Great, thanks for the help."],
     "You're welcome! Have a great day and good luck with your project."),
    (["What are your store hours?", "when do your stores open on sunday"],
     "Most stores are open 7 am to 9 pm Monday to Saturday and 8 am to 8 pm on Sunday. Hours for a specific "
     "store are on its page under Store Finder."),
    (["Do you price match?", "will you match a competitor's price"],
     "Yes: we match the current price of an identical in-stock item from a major retailer, at checkout or "
     "within 14 days of purchase. Marketplace sellers and clearance prices are excluded."),
    (["Do you sell gift cards?"], "Yes, in any amount from $10 to $500, as e-gift cards online or plastic cards "
                                  "in store. They never expire."),
    (["Are you a bot?", "am I talking to a human"],
     "I'm an automated assistant. If you'd like, I can connect you with a human agent."),
    (["Can you recommend a good pizza place near me?", "what's the weather going to be tomorrow?"],
     "Sorry, I can only help with orders, products and services. Is there anything store-related I can do for you?"),
    (["How long do I have to return something?", "what is the return window"],
     "Most items can be returned within 90 days with a receipt; power tools and outdoor equipment within 30 days. "
     "Give me the order number and I can start a return."),
    (["Do you have a military discount?"],
     "Yes, active-duty service members and veterans get 10% off eligible purchases after verifying online or at "
     "the register."),
]


def _day(ts: int) -> str:
    return datetime.fromtimestamp(ts, tz=timezone.utc).strftime("%Y-%m-%d")


def _order_result(g: Gen, order_id: str, status: str, ts: int) -> dict[str, Any]:
    name, _, sku = g.product()
    out: dict[str, Any] = {"order_id": order_id, "status": status, "placed_at": _day(ts - g.rng.randint(4, 12) * 86400)}
    if status == "delivered":
        out["delivered_at"] = _day(ts - g.rng.randint(1, 3) * 86400)
    if status == "shipped":
        code, carrier = g.tracking()
        out["tracking_number"], out["carrier"] = code, carrier
    out["items"] = [{"sku": sku, "name": name, "quantity": 1}]
    return out


def _multi_turn(g: Gen, ts: int) -> tuple[list[Message], Turn]:
    """A finished first exchange (tool call, tool result, assistant reply) and the follow-up that the log answers."""
    oid = g.order_id()
    scenario = g.rng.randrange(5)
    if scenario in (0, 1, 2):
        status = ["delivered", "processing", "shipped"][scenario]
        first_call: Call = ("lookup_order_status", {"order_id": oid})
        result = _order_result(g, oid, status, ts)
        item = result["items"][0]
        first_text = g.pick(["Where is my order {o}?", "Can you check order {o}?", "status of {o} please"])
        first_text = first_text.format(o=oid)
        if status == "delivered":
            reply = f"Order {oid} was delivered on {result['delivered_at']}. It contained the {item['name']}."
            reason = g.pick(["damaged", "defective"])
            category = next(c for n, c, _ in PRODUCTS if n == item["name"])
            problem = g.reason_phrase(reason, category)
            follow = f"Yeah it came but the {item['name']} {problem}. I want to return it."
            nxt: list[Call] = [("start_return", {"order_id": oid, "reason": reason, "items": [item["sku"]]})]
        elif status == "processing":
            reply = f"Order {oid} is still processing and should ship within 1-2 business days."
            address = g.address()
            follow = f"Good, then can you change the address to {address}?"
            nxt = [("update_shipping_address", {"order_id": oid, "address": address})]
        else:
            reply = (f"Order {oid} has shipped with {CARRIER_NAMES[result['carrier']]}, tracking number "
                     f"{result['tracking_number']}.")
            follow = g.pick(["Can you track it?", "Where is it right now?", "ok, can you see where the package is?"])
            nxt = [("track_shipment", {"tracking_number": result["tracking_number"], "carrier": result["carrier"]})]
    elif scenario == 3:
        code, carrier = g.tracking()
        first_text = f"Can you track {code}?"
        first_call = ("track_shipment", {"tracking_number": code})
        result = {"tracking_number": code, "carrier": carrier, "status": "exception",
                  "last_event": "Delayed: weather in the carrier network", "estimated_delivery": None}
        reply = (f"Package {code} is delayed by the carrier because of weather; there is no new delivery estimate "
                 "yet.")
        follow = g.pick(["I need it by Friday for a job. Can a person help?",
                         "This is ridiculous. I want to talk to someone."])
        nxt = [("escalate_to_human", {"summary": f"Shipment {code} delayed with no estimate; customer needs it "
                                                 "urgently.", "priority": "high"})]
    else:
        name, category, _ = g.product()
        # Only yes/no questions, so that one tool result fits them all.
        asked, restated = g.pick([q for q in QUESTIONS[category] + QUESTIONS["any"]
                                  if q[1].split()[0] in ("Is", "Does", "Are", "Can")])
        first_text = asked.format(p=name)
        first_call = ("product_qa", {"product": name, "question": restated})
        result = {"answer": "Yes, according to the manufacturer's specifications.", "source": "spec sheet"}
        reply = "Yes, according to the manufacturer's specifications."
        follow = g.pick(["Great. And how much does it weigh?", "ok thanks, what does it weigh?"])
        nxt = [("product_qa", {"product": name, "question": "What does it weigh?"})]
    call_id = g.call_id()
    history = [
        {"role": "user", "content": first_text},
        {"role": "assistant", "content": None,
         "tool_calls": [_tool_call(g, call_id, first_call, as_string=not g.chance(0.15))]},
        {"role": "tool", "tool_call_id": call_id, "content": json.dumps(result)},
        {"role": "assistant", "content": reply},
    ]
    return history, (follow, nxt)


def _tool_call(g: Gen, call_id: str, call: Call, *, as_string: bool) -> dict[str, Any]:
    name, args = call
    return {"id": call_id, "type": "function",
            "function": {"name": name, "arguments": json.dumps(args, separators=(",", ":")) if as_string else args}}


def _router_record(g: Gen, client: str, history: list[Message], turn: Turn, ts: int, answer: str = "") -> Record:
    """A router log record; `answer` is the text reply when the turn has no tool calls."""
    text, calls = turn
    messages = [{"role": "system", "content": ROUTER_SYSTEM}, *history, {"role": "user", "content": text}]
    request = {"model": MODEL, "messages": messages, "tools": TOOLS, "tool_choice": "auto", "temperature": 0.2,
               "max_tokens": 1024}
    if calls:
        # Most serving stacks log arguments as the JSON string OpenAI defines; some log them already parsed.
        as_string = not g.chance(0.15)
        message = {"role": "assistant", "content": None,
                   "tool_calls": [_tool_call(g, g.call_id(), c, as_string=as_string) for c in calls]}
        return record("tool_router", client, ts, request, completion(g, ts, request, message, "tool_calls"))
    message = {"role": "assistant", "content": answer}
    return record("tool_router", client, ts, request, completion(g, ts, request, message, "stop"))


def _near_duplicate(g: Gen, text: str) -> str:
    """Same request, different surface: casing, punctuation, whitespace."""
    variants = [
        text.lower(),
        text.rstrip(".?!") if text[-1] in ".?!" else text + "?",
        "  " + text + " ",
        text.replace(" ", "  ", 1),
        text[0].upper() + text[1:] if text[0].islower() else text[0].lower() + text[1:],
    ]
    variant = g.pick(variants)
    return variant if variant != text else text + " "


def tool_router(g: Gen) -> list[Record]:
    records: list[Record] = []
    singles: list[tuple[str, Turn]] = []  # (client, turn) of single-turn tool calls, for duplicates
    asks, weights = zip(*ASKS, strict=True)
    for _ in range(485):
        client = "mobile-app" if g.chance(0.4) else "web-app"
        ts = g.timestamp()
        if g.chance(0.1):
            history, turn = _multi_turn(g, ts)
            records.append(_router_record(g, client, history, turn, ts))
            continue
        text, calls = g.rng.choices(asks, weights=weights)[0](g)
        if client == "mobile-app" and g.chance(0.3):
            text = text.lower().rstrip(".")
        singles.append((client, (text, calls)))
        records.append(_router_record(g, client, [], (text, calls), ts))
    for _ in range(46):  # ~8 % answered in text: small talk and out-of-scope questions
        phrasings, answer = g.pick(SMALL_TALK)
        client = "mobile-app" if g.chance(0.4) else "web-app"
        records.append(_router_record(g, client, [], (g.pick(phrasings), []), g.timestamp(), answer))
    for _ in range(28):  # near duplicates: same meaning and answer, different casing/punctuation/whitespace
        client, (text, calls) = g.pick(singles)
        records.append(_router_record(g, client, [], (_near_duplicate(g, text), calls), g.timestamp()))
    for _ in range(11):  # with the repeats that occur by chance, ~3 % exact repeats
        client, turn = g.pick(singles)
        records.append(_router_record(g, client, [], turn, g.timestamp()))
    return records


# --- chat_assistant ---------------------------------------------------------------------------------------------

CHAT_SYSTEM = (f"You are {STORE}'s DIY helper. Give practical, safe home-improvement advice in a few sentences. "
               "Recommend a professional for gas, structural or panel electrical work.")
CHAT_TOPICS: list[tuple[list[str], str]] = [
    (["How do I patch a small hole in drywall?", "best way to fix a doorknob hole in drywall?"],
     "For holes up to about 4 inches, use a self-adhesive mesh patch: clean the edges, stick the patch on, then "
     "apply two or three thin coats of joint compound, feathering each wider than the last. Sand lightly between "
     "coats, prime, and paint."),
    (["What grit sandpaper should I use before painting cabinets?", "sandpaper grit for repainting kitchen cabinets"],
     "Scuff-sand glossy cabinets with 120 to 150 grit to give the primer something to grip, then use 220 grit "
     "between coats. Wipe off the dust with a tack cloth before each coat."),
    (["What size drill bit do I need for a #8 wood screw pilot hole?", "pilot hole size for number 8 screws"],
     "Use a 1/8 in. bit for softwood and 9/64 in. for hardwood. For the clearance hole in the top board, "
     "use 11/64 in."),
    (["How do I stop a toilet from running?", "my toilet keeps running, what do I do"],
     "Most running toilets have a worn flapper or a fill valve set too high. Lift the lid: if water spills into "
     "the overflow tube, lower the float; if the tank slowly drains, replace the flapper, which is a 10-minute job."),
    (["Can I paint over wallpaper?", "is it ok to paint directly on wallpaper"],
     "You can if the paper is firmly attached and smooth: seal it with an oil-based or shellac primer first so the "
     "paint's moisture doesn't loosen the glue. Removing it gives a better, longer-lasting result."),
    (["How do I find a stud without a stud finder?", "find studs in wall without a stud finder"],
     "Studs are usually 16 inches apart, starting from a corner. Look for nail dimples along the baseboard or "
     "outlets, which are mounted on a stud side, then confirm with a thin finish nail in a spot that will be hidden."),
    (["What's the difference between a drill and an impact driver?", "drill vs impact driver?"],
     "A drill has a clutch and chuck for drilling holes and precise screw work. An impact driver delivers rotational "
     "hammer blows for far more torque, which is better for long screws and lag bolts, but it needs hex-shank bits."),
    (["How long should I wait to seal a new deck?", "when can I stain pressure treated wood"],
     "Let new pressure-treated lumber dry until a sprinkle of water soaks in instead of beading, often one to "
     "three months. Kiln-dried lumber (KDAT) can be stained right away."),
    (["How do I unclog a bathroom sink without chemicals?", "sink drains slow, how to clear it"],
     "Pull and clean the pop-up stopper first; hair usually collects there. If that doesn't do it, use a plastic "
     "drain snake, or remove and rinse the P-trap with a bucket underneath."),
    (["What caulk should I use around a bathtub?", "best caulk for tub and shower"],
     "Use 100% silicone or a siliconized kitchen-and-bath caulk labeled mildew resistant. Remove the old caulk "
     "completely, clean with rubbing alcohol, and fill the tub with water before caulking so the joint doesn't "
     "pull apart later."),
    (["How do I replace a light switch?", "changing a regular light switch, how?"],
     "Turn off the breaker and confirm with a voltage tester. Note which wires go to which screws, move them to "
     "the new switch one at a time, connect the ground to the green screw, and fold the wires back neatly. If you "
     "find aluminum wiring, call an electrician."),
    (["How many bags of concrete do I need for a fence post?", "concrete per fence post?"],
     "For a 4x4 post in a 10-inch-wide, 2-foot-deep hole, plan on two 50 lb bags of fast-setting concrete, or three "
     "for a 3-foot-deep hole."),
    (["Is it safe to use an extension cord with a space heater?", "can i plug a space heater into an extension cord"],
     "No. Space heaters draw enough current to overheat most extension cords and power strips. Plug them directly "
     "into a wall outlet, and keep them three feet from anything that can burn."),
    (["What's the best way to remove old paint from wood trim?", "how to strip paint off trim"],
     "Use a heat gun or a citrus-based stripper and a sharp scraper, then sand with 120 grit. If the house was built "
     "before 1978, test for lead first and use wet methods instead of sanding."),
    (["How often should I change my furnace filter?", "furnace filter replacement frequency"],
     "Check it monthly and replace 1-inch filters every one to three months, more often with pets or during "
     "construction. Thicker 4-inch media filters typically last six to twelve months."),
    (["How do I level a wobbly washing machine?", "washer shakes like crazy on spin, how to fix"],
     "Check that the load is balanced, then adjust the front feet until the machine doesn't rock corner to corner "
     "and tighten their lock nuts. If it's new, make sure the shipping bolts on the back were removed."),
    (["What anchors should I use to hang a heavy mirror on drywall?", "best drywall anchor for a 40 lb mirror"],
     "Screw into a stud if you can. Otherwise use two toggle bolts or heavy-duty snap toggles rated well above the "
     "mirror's weight; plastic expansion anchors are only for light items."),
    (["How do I get rid of a musty smell in my basement?", "basement smells damp, what should I do"],
     "Find the moisture source first: check gutters and grading, and look for leaks. Run a dehumidifier set to "
     "about 45-50% humidity, improve airflow, and clean any mildew with a detergent solution."),
    (["Do I need a permit to build a deck?", "is a permit required for a backyard deck"],
     "Usually yes if the deck is attached to the house, more than 30 inches above grade, or over 200 square feet, "
     "but rules vary. Check with your local building department before you buy materials."),
    (["How do I fix a leaky outdoor spigot?", "outside faucet drips, how to fix"],
     "Shut off the water to the spigot, remove the handle and packing nut, and replace the washer and packing. "
     "If it still leaks or freezes often, replace it with a frost-free sillcock."),
    (["What's the best way to clean grout?", "how do I get grout white again"],
     "Scrub with a paste of baking soda and water or an oxygen bleach cleaner and a stiff brush, then rinse. "
     "Once dry, apply a penetrating grout sealer to keep it clean longer."),
    (["Can I use indoor paint outside?", "is interior paint ok for a porch"],
     "It's not a good idea: interior paint lacks the UV and mildew resistance and flexibility that exterior "
     "paint has, so it will chalk, peel or fade quickly outdoors."),
    (["How do I choose the right light bulb color?", "what's the difference between soft white and daylight bulbs"],
     "Color temperature is in kelvins: 2700K (soft white) is warm and cozy for living rooms and bedrooms, 3000K "
     "suits kitchens and baths, and 4000-5000K (cool white to daylight) works for garages and workspaces."),
    (["How do I fix a squeaky door hinge?", "door hinge squeaks, fix?"],
     "Tap the hinge pin up and out, clean it with steel wool, coat it with white lithium grease or a drop of oil, "
     "and tap it back in. Avoid WD-40 alone; it cleans but doesn't lubricate for long."),
]


def chat_assistant(g: Gen) -> list[Record]:
    records: list[Record] = []
    for _ in range(150):
        asks, answer = g.pick(CHAT_TOPICS)
        question = g.pick(asks)
        if g.chance(0.5):
            opener = g.pick(["Quick one: ", "Hi, ", "Newbie question: ", "Weekend project question: ",
                             "First-time homeowner here. ", "Hey! "])
            question = opener + (question if opener.endswith(". ") else question[0].lower() + question[1:])
        if g.chance(0.3):
            question += "" if question[-1] in ".?!" else "?"
            question += g.pick([" Thanks!", " Thanks in advance.", " Trying to avoid calling someone out."])
        history: list[Message] = []
        if g.chance(0.15):
            prior_asks, prior_answer = g.pick(CHAT_TOPICS)
            history = [{"role": "user", "content": g.pick(prior_asks)}, {"role": "assistant", "content": prior_answer}]
        messages = [{"role": "system", "content": CHAT_SYSTEM}, *history, {"role": "user", "content": question}]
        request = {"model": MODEL, "messages": messages, "temperature": 0.7, "max_tokens": 512}
        ts = g.timestamp()
        client = "web-app" if g.chance(0.7) else "mobile-app"
        message = {"role": "assistant", "content": answer}
        records.append(record("chat_assistant", client, ts, request, completion(g, ts, request, message, "stop")))
    return records


# --- summarizer -------------------------------------------------------------------------------------------------

SUMMARY_SYSTEM = "You summarise text for store staff. Reply with exactly one sentence."


def _review(g: Gen) -> tuple[str, str]:
    name, _, _ = g.product(("cordless",))
    project, project_short = g.pick([
        ("rebuild the back deck", "a deck rebuild"), ("finish the basement", "a basement remodel"),
        ("hang shelves in the garage", "garage shelving"), ("redo the kitchen", "a kitchen remodel"),
        ("build raised garden beds", "garden beds"),
    ])
    pro, pro_short = g.pick([
        ("It has plenty of power and never bogged down, even on hardwood.", "powerful"),
        ("It is light enough to use overhead for an hour without my arm getting tired.", "light and comfortable"),
        ("Setup took five minutes and the instructions were clear.", "easy to set up"),
        ("The build quality feels solid and nothing rattles.", "solidly built"),
    ])
    con, con_short = g.pick([
        ("The carrying case is flimsy and one latch broke in the first week.", "the case is flimsy"),
        ("It is louder than I expected, so I wear ear protection.", "it is loud"),
        ("With the bigger battery it gets front-heavy.", "it is front-heavy with the bigger battery"),
        ("The battery indicator is hard to read in daylight.", "the battery indicator is hard to read"),
    ])
    stars = g.pick([3, 4, 5])
    verdict = {3: "It's fine for the price but I'd look around first.", 4: "I'd buy it again.",
               5: "Best tool purchase I've made this year."}[stars]
    paragraph = f"I bought the {name} last month to {project}. {pro} {con} {verdict} {stars} stars."
    summary = (f"A {stars}-star review says the {name} was {pro_short} for {project_short}, though "
               f"{con_short}.")
    return paragraph, summary


def _ticket(g: Gen) -> tuple[str, str]:
    who, oid, day = g.pick(NAMES), g.order_id(), g.pick(WEEKDAYS)
    name, _, _ = g.product()
    # (issue, its short form, [(what the agent did, its short form)])
    cases = [
        (f"The {name} was delivered to a neighbor's porch two streets away.", f"the {name} went to the wrong house",
         [("The agent sent a replacement by two-day shipping at no cost.", "sent a free two-day replacement"),
          ("The agent opened a claim with the carrier and added a $20 store credit.",
           "opened a carrier claim with a $20 credit")]),
        (f"The {name} arrived with a missing hardware bag.", f"the {name} arrived missing its hardware",
         [("The agent mailed the hardware bag by two-day shipping.", "mailed the missing hardware"),
          ("The agent sent a complete replacement and a return label for the first one.",
           "sent a replacement with a return label")]),
        (f"The customer was charged for two units of the {name} but received one.", "the customer was overcharged",
         [("The agent refunded the second unit to the original card.", "refunded the extra charge")]),
    ]
    issue, issue_short, actions = g.pick(cases)
    action, action_short = g.pick(actions)
    paragraph = (f"{who} contacted support on {day} about order {oid}. {issue} {action} "
                 "The customer confirmed the fix by email and the ticket was closed.")
    summary = f"On {day}, support {action_short} after {issue_short} on order {oid}, and the ticket is closed."
    return paragraph, summary


def _notice(g: Gen) -> tuple[str, str]:
    city, state, _ = g.pick(CITIES)
    date = f"March {g.rng.randint(3, 28)}"
    event, event_short = g.pick([
        ("close at 3 pm for a floor reset of the paint and flooring aisles", "closes early for a floor reset"),
        ("open two hours late while the parking lot is resurfaced", "opens late for lot resurfacing"),
        ("host a free kids' workshop building birdhouses from 9 to 11 am", "hosts a kids' birdhouse workshop"),
        ("run a contractor breakfast with vendor demos at the pro desk", "hosts a contractor breakfast"),
    ])
    paragraph = (f"The {city}, {state} store will {event} on {date}. Online orders set for pickup that day can be "
                 "collected at the service desk. Staff should tell customers at checkout during the week before.")
    summary = f"The {city} store {event_short} on {date}, and pickups go through the service desk."
    return paragraph, summary


def summarizer(g: Gen) -> list[Record]:
    records: list[Record] = []
    for _ in range(100):
        paragraph, summary = g.pick([_review, _review, _ticket, _notice])(g)
        prompt = g.pick(["Summarize the following paragraph in one sentence:",
                         "Summarize this in one sentence.", "One-sentence summary please:"])
        messages = [{"role": "system", "content": SUMMARY_SYSTEM},
                    {"role": "user", "content": f"{prompt}\n\n{paragraph}"}]
        request = {"model": MODEL, "messages": messages, "temperature": 0.3, "max_tokens": 128}
        ts = g.timestamp()
        message = {"role": "assistant", "content": summary}
        records.append(record("summarizer", "internal-tools", ts, request, completion(g, ts, request, message, "stop")))
    return records


# --- shorthand FAQ bot ------------------------------------------------------------------------------------------

FAQ_SYSTEM = f"You answer frequently asked questions about {STORE}. Be brief and accurate."
FAQ: list[tuple[list[str], str]] = [
    (["Can I cancel an online order?", "how do i cancel my order"],
     "Orders can be cancelled from Order History until they are picked for shipping, usually within an hour."),
    (["How much is shipping?", "is shipping free"],
     "Standard shipping is free on orders over $45; otherwise it is $5.99. Large items ship freight."),
    (["Do you rent tools?", "can I rent a floor sander"],
     "Yes, most stores rent tools and equipment by the 4 hours, day or week. Reserve online or at the rental desk."),
    (["Can you cut keys?", "do you copy car keys"],
     "All stores cut standard house keys; many also program car key fobs. Check your store's services page."),
    (["Can you match a paint color from a sample?", "paint color matching?"],
     "Yes. Bring a sample at least one inch square and the paint desk will scan and match it while you wait."),
    (["Do you offer installation?", "can you install a water heater for me"],
     "We offer installation for water heaters, flooring, doors, windows and more through licensed local pros."),
    (["How does the rewards program work?", "what do I get with rewards"],
     "Members earn 1 point per dollar and get a $5 reward for every 500 points, plus extended return windows."),
    (["How do I reset my account password?", "forgot my password"],
     "Use 'Forgot password' on the sign-in page; we email a reset link that is valid for 30 minutes."),
    (["Do you offer tax-exempt purchasing?", "how to set up tax exempt account"],
     "Yes. Upload your exemption certificate in your account under Tax Exemption; approval takes 1-2 business days."),
    (["Is there a bulk discount?", "discount for large orders?"],
     "Orders over $2,500 can get volume pricing. Request a quote from the Pro Desk online or in store."),
    (["Do you haul away old appliances?", "will you take my old water heater"],
     "Haul-away is free when we deliver a replacement appliance or water heater; just select it at checkout."),
    (["Can I buy online and pick up in store?", "is curbside pickup available"],
     "Yes. Most in-stock items are ready in 2 hours; choose store or curbside pickup at checkout."),
    (["How do I register a tool warranty?", "warranty registration"],
     "Register on the manufacturer's site with your receipt; your order history serves as proof of purchase."),
    (["Do you deliver lumber?", "can you deliver plywood to my house"],
     "Yes, lumber and building materials deliver from the store by flatbed; delivery fees depend on distance."),
    (["Do you have a gift registry?", "housewarming registry?"],
     "We don't have a registry, but gift cards are available online and in store in any amount from $10 to $500."),
]


def shorthand(g: Gen) -> list[dict[str, Any]]:
    lines: list[dict[str, Any]] = []
    for asks, answer in FAQ:
        for ask in asks:
            messages: list[Message] = [{"role": "system", "content": FAQ_SYSTEM}]
            if g.chance(0.2):
                prior_asks, prior_answer = g.pick(FAQ)
                messages += [{"role": "user", "content": prior_asks[0]}, {"role": "assistant", "content": prior_answer}]
            messages += [{"role": "user", "content": ask}, {"role": "assistant", "content": answer}]
            lines.append({"messages": messages})
    return lines


# --- output ---------------------------------------------------------------------------------------------------------


def _write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    # Fixed newline and encoding, so the bytes are the same on every platform.
    with path.open("w", encoding="utf-8", newline="\n") as out:
        for row in rows:
            out.write(json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent)
    args = parser.parse_args(argv)
    g = Gen(args.seed)
    logs = tool_router(g) + chat_assistant(g) + summarizer(g)
    # Logs arrive in time order; the sort is stable, so equal timestamps keep their generation order.
    logs.sort(key=lambda r: r["timestamp"])
    args.out.mkdir(parents=True, exist_ok=True)
    _write_jsonl(args.out / "logs.jsonl", logs)
    _write_jsonl(args.out / "shorthand.jsonl", shorthand(g))


if __name__ == "__main__":
    main()
