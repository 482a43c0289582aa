// Analytics side: the only code that opens DuckDB. For now it only owns the file (opened at start,
// closed at stop); the analytics issue adds ingestion (batched Appender writes from a worker) and
// queries. DuckDB holds the file exclusively: one process at a time.
import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";

export class Analytics {
  private constructor(
    private instance: DuckDBInstance,
    private conn: DuckDBConnection,
  ) {}

  static async open(path: string): Promise<Analytics> {
    // A bounded thread count so analytics can never starve the socket thread on 2 cores.
    const instance = await DuckDBInstance.create(path, { threads: "1" });
    const conn = await instance.connect();
    return new Analytics(instance, conn);
  }

  async ping(): Promise<boolean> {
    const r = await this.conn.runAndReadAll("SELECT 1 AS ok");
    return r.getRowObjects()[0]?.ok === 1;
  }

  close(): void {
    this.conn.closeSync();
    this.instance.closeSync();
  }
}
