"""A database's schema as sorted lines, from catalog queries (pg_dump need not be installed).

python -m tests.db.catalog postgresql://postgres@127.0.0.1:5432/some_database
"""

from __future__ import annotations

import asyncio
import sys

import asyncpg

# One query per kind of object in the public schema, each row one line. Columns are named
# with their table, not numbered: their position is not part of what is compared.
QUERIES = {
    "column": """
        SELECT c.relname || '.' || a.attname || ' ' || format_type(a.atttypid, a.atttypmod)
               || CASE WHEN a.attnotnull THEN ' NOT NULL' ELSE '' END
               || coalesce(' DEFAULT ' || pg_get_expr(d.adbin, d.adrelid), '')
               || CASE WHEN a.attidentity <> '' THEN ' IDENTITY ' || a.attidentity::text ELSE '' END
               || CASE WHEN a.attgenerated <> '' THEN ' GENERATED' ELSE '' END
          FROM pg_attribute a
          JOIN pg_class c ON c.oid = a.attrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
          LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
         WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
           AND a.attnum > 0 AND NOT a.attisdropped""",
    "constraint": """
        SELECT c.relname || ' ' || k.conname || ' ' || pg_get_constraintdef(k.oid)
          FROM pg_constraint k
          JOIN pg_class c ON c.oid = k.conrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public'""",
    "index": "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'",
    "function": """
        SELECT pg_get_functiondef(p.oid)
          FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE n.nspname = 'public'""",
    "sequence": """
        SELECT sequencename || ' ' || data_type || ' start ' || start_value
               || ' increment ' || increment_by
          FROM pg_sequences WHERE schemaname = 'public'""",
    "view": """
        SELECT viewname || ' ' || definition FROM pg_views WHERE schemaname = 'public'""",
    "trigger": """
        SELECT pg_get_triggerdef(t.oid)
          FROM pg_trigger t
          JOIN pg_class c ON c.oid = t.tgrelid
          JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE n.nspname = 'public' AND NOT t.tgisinternal""",
    "type": """
        SELECT t.typname || ' ' || t.typtype::text
          FROM pg_type t JOIN pg_namespace n ON n.oid = t.typnamespace
         WHERE n.nspname = 'public' AND t.typtype IN ('e', 'd', 'r', 'm')""",
}


async def catalog(connection: asyncpg.Connection) -> list[str]:
    """Every object of the public schema, one line each (a function over several), sorted."""
    lines = []
    for kind, query in QUERIES.items():
        for (text,) in await connection.fetch(query):
            lines.append(f"{kind} {' '.join(str(text).split())}")
    return sorted(lines)


async def _main(url: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        print("\n".join(await catalog(connection)))
    finally:
        await connection.close()


if __name__ == "__main__":
    asyncio.run(_main(sys.argv[1]))
