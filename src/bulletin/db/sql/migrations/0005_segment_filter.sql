-- 0005: one definition of what a segment's filters match, read by campaign runs and by
-- `audience export` alike. An empty list or a NULL date matches every chat. A plain SQL
-- expression, so PostgreSQL inlines it into each query (no call per row).

CREATE FUNCTION in_segment(
    tags text[], language_code text, chat_type text, created_at timestamptz,
    tags_any text[], tags_all text[], tags_none text[], languages text[],
    chat_types text[], subscribed_after timestamptz, subscribed_before timestamptz
) RETURNS boolean
    LANGUAGE sql IMMUTABLE PARALLEL SAFE
    RETURN (cardinality(tags_any) = 0 OR tags && tags_any)
       AND tags @> tags_all
       AND NOT (tags && tags_none)
       -- a language is its primary subtag: 'pt' matches 'pt-br'
       AND (cardinality(languages) = 0
            OR split_part(lower(language_code), '-', 1) = ANY (languages))
       AND (cardinality(chat_types) = 0 OR chat_type = ANY (chat_types))
       AND (subscribed_after IS NULL OR created_at >= subscribed_after)
       AND (subscribed_before IS NULL OR created_at < subscribed_before);
