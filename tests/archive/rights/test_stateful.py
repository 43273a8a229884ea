"""Random small archives and random sequences of rights and sweeps (hypothesis, stateful).

Three data subjects write e-mails (some to the orders mailbox, so they carry the
legal purpose), mention each other's customer numbers, and ask for erasure,
objection, consent withdrawal and restriction in any order, while legal places
and lifts holds and the sweeper runs with its clock moving forward. After
every step:

* an item whose data subject asked for nothing destructive still has every
  purpose its retention allows (so it was neither shredded nor purged): other
  people's requests, mentions, holds, restrictions and sweeps never take more;
* every role's search results stay inside its purposes (and, for quality and
  trainer, outside restricted items).
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    initialize,
    invariant,
    precondition,
    rule,
)

from archive import holds, rights
from archive.config import Role
from archive.errors import InvalidRequest
from archive.index import SearchQuery
from archive.index.memory import MemoryIndex
from archive.model import now_utc
from archive.retention import sweep
from archive.store.memory import MemoryStore
from archive.users import User
from tests.conftest import email_item, make_archive
from tests.subjects import ORDERS_MAILBOX, PRIVACY_CONFIG, A, B, C, Subject

SUBJECTS = (A, B, C)
READERS = tuple(User(f"{r.value}-reader", r) for r in (Role.QUALITY, Role.TRAINER, Role.LEGAL))
WORD = "modem"


@dataclass(frozen=True)
class ItemModel:
    owner: Subject
    purposes: frozenset[str]
    started_at: datetime


class RightsMachine(RuleBasedStateMachine):
    holds_placed = Bundle("holds")

    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(tempfile.mkdtemp(prefix="rights-stateful-"))
        self.arc = make_archive(self.tmp / "data", store=MemoryStore(), index=MemoryIndex(),
                                config=PRIVACY_CONFIG)
        self.items: dict[str, ItemModel] = {}
        #: Subjects who asked for erasure, objection or withdrawal.
        self.asked: set[str] = set()
        #: The sweeper's clock: it only moves forward.
        self.clock = now_utc()

    def teardown(self) -> None:
        self.arc.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    @staticmethod
    def _ids(subject: Subject) -> list[str]:
        return [subject.email, subject.customer_number]

    # -- the world ---------------------------------------------------------------------

    @initialize()
    def seed(self) -> None:
        """Each subject's support mail, order mail, and a mail mentioning the next one."""
        for n, owner in enumerate(SUBJECTS):
            self.mail(owner, None, False, 0)
            self.mail(owner, None, True, 100)
            self.mail(owner, SUBJECTS[(n + 1) % len(SUBJECTS)], False, 10)

    @rule(owner=st.sampled_from(SUBJECTS), mention=st.none() | st.sampled_from(SUBJECTS),
          order=st.booleans(), age_days=st.integers(0, 800))
    def mail(self, owner: Subject, mention: Subject | None, order: bool, age_days: int) -> None:
        text = f"My {WORD} fails." + (f" Ask {mention.customer_number}." if mention else "")
        started = now_utc() - timedelta(days=age_days)
        new = email_item(customer=owner.email, body=text, started_at=started,
                         agent=ORDERS_MAILBOX if order else "support@example.com")
        try:
            item_id = self.arc.ingest(new).item_id
        except InvalidRequest:
            # Only a standing objection of the owner may refuse a new item.
            assert owner.email in self.asked
            return
        self.items[item_id] = ItemModel(owner, self.arc.record(item_id).purpose_names,
                                        started)

    @rule(target=holds_placed, subject=st.sampled_from(SUBJECTS))
    def hold_subject(self, subject: Subject) -> int:
        return holds.place_hold(self.arc, actor="legal-1", reason="claim", case_ref="C-1",
                                subject=subject.email).id

    @rule(target=holds_placed, data=st.data())
    @precondition(lambda self: bool(self.live_items()))
    def hold_item(self, data: st.DataObject) -> int:
        item_id = data.draw(st.sampled_from(sorted(self.live_items())))
        return holds.place_hold(self.arc, actor="legal-1", reason="claim", case_ref="C-2",
                                item_ids=[item_id]).id

    @rule(hold_id=consumes(holds_placed))
    def lift(self, hold_id: int) -> None:
        holds.lift_hold(self.arc, hold_id, actor="legal-1", note="settled")

    @rule(subject=st.sampled_from(SUBJECTS))
    def restrict(self, subject: Subject) -> None:
        rights.restrict_subject(self.arc, self._ids(subject), actor="dpo", reason="contested")

    @rule(subject=st.sampled_from(SUBJECTS))
    def unrestrict(self, subject: Subject) -> None:
        rights.lift_restriction(self.arc, self._ids(subject), actor="dpo", note="informed")

    @rule(subject=st.sampled_from(SUBJECTS), dry_run=st.booleans())
    def erase(self, subject: Subject, dry_run: bool) -> None:
        if not dry_run:
            self.asked.add(subject.email)
        rights.erase_subject(self.arc, self._ids(subject), actor="dpo", dry_run=dry_run)

    @rule(subject=st.sampled_from(SUBJECTS), withdrawal=st.booleans(),
          purposes=st.sampled_from([None, ["training"], ["quality"]]), dry_run=st.booleans())
    def object(self, subject: Subject, withdrawal: bool, purposes: list[str] | None,
               dry_run: bool) -> None:
        if not dry_run:
            self.asked.add(subject.email)
        rights.object_subject(self.arc, self._ids(subject), actor="dpo", purposes=purposes,
                              withdrawal=withdrawal, dry_run=dry_run)

    @rule(days=st.integers(0, 400))
    def sweep(self, days: int) -> None:
        self.clock += timedelta(days=days)
        sweep(self.arc, now=self.clock)

    # -- what must always hold ---------------------------------------------------------------

    def live_items(self) -> set[str]:
        return set(self.arc.item_ids())

    def _due_purposes(self, model: ItemModel) -> set[str]:
        """The purposes whose retention has not ended at the sweeper's clock."""
        return {p for p in model.purposes
                if model.started_at + self.arc.config.purpose(p).retention > self.clock}

    @invariant()
    def nobody_elses_request_takes_an_item(self) -> None:
        records = self.arc.vault.records_of(sorted(self.items))
        for item_id, model in self.items.items():
            if model.owner.email in self.asked:
                continue
            due = self._due_purposes(model)
            if not due:
                continue
            record = records.get(item_id)
            assert record is not None, f"{model.owner.name}'s item {item_id} was purged"
            assert due <= record.purpose_names, (
                f"{model.owner.name}'s item {item_id} lost {due - record.purpose_names}")

    @invariant()
    def search_stays_inside_each_roles_purposes(self) -> None:
        for user in READERS:
            allowed = self.arc.config.purposes_for_role(user.role)
            hits = self.arc.search(user, SearchQuery(text=WORD, limit=200)).result.hits
            records = self.arc.vault.records_of([h.item_id for h in hits])
            for hit in hits:
                record = records[hit.item_id]
                assert record.purpose_names & allowed, (user.role, hit.item_id)
                if user.role is not Role.LEGAL:
                    assert not record.restricted, (user.role, hit.item_id)


RightsMachine.TestCase.settings = settings(
    max_examples=30, stateful_step_count=12, deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_rights_never_reach_past_the_requester = RightsMachine.TestCase
