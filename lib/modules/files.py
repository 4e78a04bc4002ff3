"""files: a client's files as ITFlow lists them (the `files` table of the newest layout):
metadata only. This server neither uploads nor serves a file's content.

read.php lists them; `document_id` lists the files linked to that document (document_files),
the ones documents/link_file links (docs/documents-and-time.md). ITFlow's own files page needs
module_support, as here.
"""
from ..core.crud import Read, require_table
from ..core.definitions import Field, Hooks, Lookup, Module

FILE_WHAT = "a client's files"
LINK_WHAT = "the links between documents and files"


class FileHooks(Hooks):
    def before_read(self, call, module):
        if call.params.has("document_id"):
            require_table(call, "document_files", LINK_WHAT)


MODULE = Module(
    name="files", table="files", id_column="file_id", client_column="file_client_id", entity="File",
    name_column="file_name", archived_column="file_archived_at", hooks=FileHooks(),
    order_by="file_id", not_in_every_database=FILE_WHAT,
    description="A client's files (metadata only: names, type, size, folder, dates; no content, no upload). "
                "Needs a database with ITFlow's files table (the newest layout).",
    fields=[
        Field("file_name", description="the file's name as shown"),
        Field("file_reference_name", description="the name of the stored file under uploads/"),
        Field("file_description", description="the file's description"),
        Field("file_ext", description="the extension"),
        Field("file_size", "int", description="the size in bytes"),
        Field("file_mime_type", description="the MIME type"),
        Field("file_favorite", "flag", description="1 when marked as a favourite"),
        Field("file_folder_id", "int", description="the folder of the client's files it is in (0: the top)"),
        Field("file_created_by", "int", description="the user who uploaded it"),
    ],
    lookups=[
        Lookup("file_id", "int", single=True),
        Lookup("document_id", "int",
               condition="file_id IN (SELECT document_files.file_id FROM document_files "
                         "WHERE document_files.document_id = :lookup)",
               description="the files linked to this document"),
    ],
)


class FileRead(Read):
    """read.php: by file_id, the files linked to a document (document_id), or all, metadata only."""
