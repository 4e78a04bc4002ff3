"""document_folders: the folders documents are filed in (ITFlow's `folders` table).

As ITFlow's folder page creates them (agent/post/folder.php create_folder): a name, a parent
folder (0: the top) and folder_location (0: documents, ITFlow's default); per client.
"""
from ..core.definitions import Lookup, Module, table_fields

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
