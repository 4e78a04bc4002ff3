"""document_folders: the folders documents are filed in (ITFlow's `folders` table).

As ITFlow's folder page creates them (agent/post/folder.php create_folder): a name, a parent
folder (0: the top) and folder_location (0: documents, ITFlow's default); per client.
rename.php renames one as the same page does (rename_folder).
"""
from ..core.crud import RecordOperation
from ..core.definitions import Lookup, Module, table_fields
from ..core.envelope import Refused

MODULE = Module(
    name="document_folders", table="folders", id_column="folder_id", client_column="folder_client_id",
    entity="Folder", name_column="folder_name", order_by="folder_name, folder_id",
    description="Document folders of a client; parent_folder nests them (0: the top level).",
    fields=table_fields("folders", "folder_client_id", references={"parent_folder": "folders"}, overrides={
        "folder_name": {"required": True},
        "parent_folder": {"description": "the folder this one is in (0: the top level)"},
        "folder_location": {"description": "0: documents (ITFlow's document pages list these)"},
    }),
    lookups=[Lookup("folder_id", "int", single=True), Lookup("parent_folder", "int")],
)


class Rename(RecordOperation):
    """rename.php: `folder_id` and its new `folder_name`, as ITFlow's folder page renames one
    (agent/post/folder.php rename_folder): only the name changes; the log names the old and
    the new name."""
    verb, action, past = "Rename", "Rename", "Renamed"
    body_fields = (MODULE.field("folder_name"),)

    def apply(self, call, record_id, current):
        if not call.params.has("folder_name"):
            raise Refused("Missing required field: folder_name.")
        name = self.module.field("folder_name").parse(call.params.get("folder_name"))
        if not name:
            raise Refused("Field(s) cannot be empty: folder_name.")
        count = call.db.update("folders", {"folder_name": name}, {"folder_id": record_id})
        return count, {"folder_name": name}

    def describe(self, current, values):
        text = f"Renamed folder {current['folder_name']} to {values['folder_name']}"
        return text, text
