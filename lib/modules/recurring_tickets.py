"""recurring_tickets: tickets ITFlow raises on a schedule (its `recurring_tickets` table, with
the additional assets in `recurring_ticket_assets` and the task list in `recurring_ticket_tasks`).

create, update and delete follow the newest ITFlow's recurring ticket page
(agent/post/recurring_ticket.php add_recurring_ticket, edit_recurring_ticket and
delete_recurring_ticket, 26.08): the columns its forms write, the first run on the start date,
the creator, the assets and tasks, and a `logs` row of type Recurring Ticket. Raising the
tickets is ITFlow's cron job's work, not this API's. ITFlow's recurring tickets have no
status: there is nothing to pause (docs/recurring.md).

Databases: recurring_tickets and recurring_ticket_assets exist since ITFlow's database 2.0.6;
the template column came with 2.5.4 and the task table with 2.5.6. On a database without
them the template is not written and a request that sends tasks is refused; a database
made by init-db in the 2.4.6 layout has no recurring_tickets at all (every call refused).
"""
from ..core.definitions import Field, Hooks, Lookup, Module, table_fields
from ..core.envelope import Refused
from ..core.values import note

# The choices of the page's forms (agent/modals/recurring_ticket/recurring_ticket_add.php).
FREQUENCIES = ("Three Days", "Weekly", "Biweekly", "Monthly", "Quarterly", "Biannually", "Annually")
PRIORITIES = ("Low", "Medium", "High", "Urgent")
TEMPLATE = "recurring_ticket_ticket_template_id"
ASSETS, TASKS = "recurring_ticket_assets", "recurring_ticket_tasks"


def _choice(values, name, choices):
    """The form's spelling of a choice sent in any case; refused when it is none of them."""
    if name not in values:
        return
    given = str(values[name] or "").strip()
    found = next((c for c in choices if c.lower() == given.lower()), None)
    if found is None:
        raise Refused(f"{name} takes one of: {', '.join(choices)} (not {values[name]!r}).")
    values[name] = found


def _has(call, table, column=None):
    """Whether this database has the table (and the column), asked once per transaction."""
    names = call.db.remember("catalogue", ("columns", table), lambda: tuple(call.db.columns_of(table)))
    return bool(names) and (column is None or column in names)


def _assets(call, values, client_id):
    """The additional assets sent: the client's own, each once (the page's multi-select offers
    only those; the table's key holds an asset once). Others are left out, and the answer says so."""
    wanted = []
    for asset in values.get(ASSETS) or ():
        if not asset or asset in wanted:
            continue
        owner = call.db.scalar("SELECT asset_client_id AS c FROM assets WHERE asset_id = :id", {"id": asset})
        if owner is None or int(owner) != int(client_id or 0):
            note(f"{ASSETS}: {asset} is not an asset of client {int(client_id or 0)} and was left out")
            continue
        wanted.append(asset)
    return wanted


def _tasks(call, values):
    """The task list as the page's parseSubmittedTasks reads it: empty names skipped, the
    order counted over those kept, each estimate (minutes) the one sent in the same place."""
    names = values.get(TASKS) or []
    estimates = values.get("recurring_ticket_task_estimates") or []
    if names and not _has(call, TASKS):
        raise Refused(f"This database has no {TASKS} table (ITFlow's database 2.5.6 added it): "
                      "its recurring tickets carry no tasks. Nothing was changed.")
    kept = []
    for index, name in enumerate(names):
        if name:
            if len(name) > 255:
                raise Refused(f"{TASKS}: task {index + 1} is longer than 255 characters.")
            kept.append({"recurring_ticket_task_name": name, "recurring_ticket_task_order": len(kept),
                         "recurring_ticket_task_completion_estimate":
                             estimates[index] if index < len(estimates) else 0})
    return kept


def _write_children(call, record_id, values, client_id, replace):
    """The assets and tasks sent; on an update (`replace`) they take the place of the stored
    ones, as the page's edit does when its form sends them."""
    if ASSETS in values:
        if replace:
            call.db.delete(ASSETS, {"recurring_ticket_id": record_id})
        for asset in _assets(call, values, client_id):
            call.db.insert(ASSETS, {"recurring_ticket_id": record_id, "asset_id": asset})
    if TASKS in values:
        tasks = _tasks(call, values)
        if replace and _has(call, TASKS):
            call.db.delete(TASKS, {"recurring_ticket_task_recurring_ticket_id": record_id})
        for task in tasks:
            call.db.insert(TASKS, {**task, "recurring_ticket_task_recurring_ticket_id": record_id})


class RecurringTicketHooks(Hooks):
    def before_create(self, call, module, values, client=None):
        _choice(values, "recurring_ticket_frequency", FREQUENCIES)
        values["recurring_ticket_priority"] = values.get("recurring_ticket_priority") or PRIORITIES[0]
        _choice(values, "recurring_ticket_priority", PRIORITIES)
        # The first run is the start date; the creator is the signed-in agent (the key's user).
        values["recurring_ticket_next_run"] = values["recurring_ticket_start_date"]
        values["recurring_ticket_created_by"] = call.key.user_id or 0
        if not _has(call, module.table, TEMPLATE):  # before ITFlow's database 2.5.4
            values.pop(TEMPLATE, None)
        _tasks(call, values)  # refused before anything is written

    def after_create(self, call, module, record_id, values):
        _write_children(call, record_id, values, values.get(module.client_column), replace=False)

    def before_update(self, call, module, current, values):
        start = values.pop("recurring_ticket_start_date", None)
        if start is not None and str(start) != str(current["recurring_ticket_start_date"]):
            raise Refused("recurring_ticket_start_date cannot be changed: ITFlow's recurring ticket page sets it "
                          "when the recurring ticket is created; recurring_ticket_next_run sets the next run.")
        _choice(values, "recurring_ticket_frequency", FREQUENCIES)
        _choice(values, "recurring_ticket_priority", PRIORITIES)
        if "recurring_ticket_next_run" in values and not values["recurring_ticket_next_run"]:
            values.pop("recurring_ticket_next_run")
        if TEMPLATE not in current:
            values.pop(TEMPLATE, None)
        _tasks(call, values)

    def after_update(self, call, module, current, values):
        _write_children(call, current[module.id_column], values, current[module.client_column], replace=True)

    def before_delete(self, call, module, current):
        # ITFlow's tables drop these by their foreign keys (ON DELETE CASCADE); a database of
        # this server's own has no such keys, so they go here, in the same transaction.
        record_id = current[module.id_column]
        call.db.delete(ASSETS, {"recurring_ticket_id": record_id})
        if _has(call, TASKS):
            call.db.delete(TASKS, {"recurring_ticket_task_recurring_ticket_id": record_id})


MODULE = Module(
    name="recurring_tickets", table="recurring_tickets", id_column="recurring_ticket_id",
    client_column="recurring_ticket_client_id", entity="Recurring Ticket", name_column="recurring_ticket_subject",
    description="Tickets ITFlow raises on a schedule (its cron job raises them); with their additional assets "
                "and task list.",
    not_in_every_database="recurring tickets",
    fields=table_fields("recurring_tickets", "recurring_ticket_client_id", skip=("recurring_ticket_created_by",),
                        references={"recurring_ticket_contact_id": "contacts",
                                    "recurring_ticket_asset_id": "assets"}, overrides={
        "recurring_ticket_subject": {"required": True},
        "recurring_ticket_details": {"kind": "html", "description": "the tickets' details, as the page stores them"},
        "recurring_ticket_priority": {"description": "Low (the default), Medium, High or Urgent"},
        "recurring_ticket_frequency": {"required": True, "description": "Three Days, Weekly, Biweekly, Monthly, "
                                       "Quarterly, Biannually or Annually"},
        "recurring_ticket_category": {"kind": "int", "description": "a ticket category id (0: none)"},
        "recurring_ticket_start_date": {"required": True, "description": "the first run (set on create only)"},
        "recurring_ticket_next_run": {"description": "the next run; on create, the start date"},
        "recurring_ticket_assigned_to": {"description": "the agent the tickets go to (a user id; 0: nobody)"},
        TEMPLATE: {"description": "the ticket template whose tasks the tickets get (ITFlow 2.5.4+)"},
    }, extra=(
        Field(ASSETS, "ids", stored=False, default=None,
              description="additional assets of the same client; on update, they replace the stored ones"),
        Field(TASKS, "lines", stored=False, default=None,
              description="the names of the tasks the tickets get; on update, they replace the stored ones "
                          "(ITFlow 2.5.6+)"),
        Field("recurring_ticket_task_estimates", "ids", stored=False, default=None,
              description="the minutes each task is estimated to take, in the order of recurring_ticket_tasks"),
    )),
    lookups=[Lookup("recurring_ticket_id", "int", single=True)],
    # What the page's edit writes, every column of its form (edit_recurring_ticket).
    update_model=("recurring_ticket_subject", "recurring_ticket_details", "recurring_ticket_priority",
                  "recurring_ticket_frequency", "recurring_ticket_billable", "recurring_ticket_next_run",
                  "recurring_ticket_assigned_to", "recurring_ticket_asset_id", "recurring_ticket_contact_id",
                  "recurring_ticket_category", TEMPLATE),
    hooks=RecurringTicketHooks(),
)
