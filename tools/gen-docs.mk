# c3fs-gen-docs: prints generated documentation (docs/ERRORS.md from errors.def, the
# message tables of docs/PROTOCOL.md from src/proto/*.def).
PROGRAMS += c3fs-gen-docs
c3fs-gen-docs_SRCS := tools/gen_docs.c
c3fs-gen-docs_MODS := common
