-- `audit verify` reads the log once in `seq` order (the table's own key) and follows every
-- site's chain in that pass; the per-site index only cost a B-tree insert per audited action.
DROP INDEX audit_by_site;
