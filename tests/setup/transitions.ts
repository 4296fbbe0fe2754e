// Test-only instrumentation: a trigger in the test's OWN database that logs every change of
// Operation.state and of a resource's status, old → new. ChangeEvent rows say only "update",
// so they can't tell a write to a terminal state from any other write; this log can, which
// lets tests assert "reached a terminal state exactly once" and "active → paused → active".
import pg from "pg";

export interface Transition {
  table: string;
  id: string;
  from: string | null;
  to: string | null;
  seq: number;
}

const RESOURCE_TABLES = ["FirewallRule", "ScheduledTask", "SupervisorProgram", "ServerPackage"] as const;

export async function installTransitionLog(databaseUrl: string) {
  await withClient(databaseUrl, async (c) => {
    await c.query(`
      CREATE TABLE IF NOT EXISTS test_transition (
        seq bigserial PRIMARY KEY, tbl text NOT NULL, id text NOT NULL, old text, new text
      );
      CREATE OR REPLACE FUNCTION test_log_transition() RETURNS trigger LANGUAGE plpgsql AS $$
      DECLARE col text := TG_ARGV[0]; o text; n text;
      BEGIN
        IF TG_OP <> 'INSERT' THEN o := to_jsonb(OLD) ->> col; END IF;
        IF TG_OP <> 'DELETE' THEN n := to_jsonb(NEW) ->> col; END IF;
        IF TG_OP = 'UPDATE' AND o IS NOT DISTINCT FROM n THEN RETURN NULL; END IF;
        INSERT INTO test_transition (tbl, id, old, new)
          VALUES (TG_TABLE_NAME, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END, o, n);
        RETURN NULL;
      END $$;
    `);
    const tables: Array<[string, string]> = [["Operation", "state"], ...RESOURCE_TABLES.map((t) => [t, "status"] as [string, string])];
    for (const [table, column] of tables) {
      await c.query(`DROP TRIGGER IF EXISTS test_transition ON "${table}"`);
      await c.query(
        `CREATE TRIGGER test_transition AFTER INSERT OR UPDATE OR DELETE ON "${table}"
           FOR EACH ROW EXECUTE FUNCTION test_log_transition('${column}')`,
      );
    }
  });

  return {
    /** Every transition (insert: from null; delete: to null), oldest first. */
    async all(): Promise<Transition[]> {
      return withClient(databaseUrl, async (c) => {
        const { rows } = await c.query(`SELECT seq, tbl, id, old, new FROM test_transition ORDER BY seq`);
        return rows.map((r) => ({ table: r.tbl, id: r.id, from: r.old, to: r.new, seq: Number(r.seq) }));
      });
    },
    /** The sequence of values one row went through: e.g. ["queued", "running", "succeeded"]. */
    async pathOf(id: string): Promise<Array<string | null>> {
      const mine = (await this.all()).filter((t) => t.id === id);
      return mine.length === 0 ? [] : [mine[0]!.from, ...mine.map((t) => t.to)].filter((v, i) => i > 0 || v !== null);
    },
  };
}

async function withClient<T>(url: string, fn: (c: pg.Client) => Promise<T>): Promise<T> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await fn(c);
  } finally {
    await c.end();
  }
}
