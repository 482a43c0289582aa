// What every dashboard route file receives: the domain doors and the dashboard's own services.
import type { Accounts } from "../../accounts/index.ts";
import type { Analytics } from "../../analytics/index.ts";
import type { AuditLog } from "../../audit/index.ts";
import type { Chat } from "../../chat/index.ts";
import type { Config } from "../../config.ts";
import type { Polls } from "../../polls/index.ts";
import type { Logger } from "../../runtime/logger.ts";
import type { Clock } from "../../runtime/time.ts";
import type { Streams } from "../../streams/index.ts";
import type { Viewers } from "../../viewers/index.ts";
import type { DashboardAuth } from "./auth.ts";
import type { DashboardFeeds } from "./feed.ts";
import type { LiveData } from "./live-data.ts";
import type { Sessions } from "./sessions.ts";

/** The domain doors the dashboard reads and acts through. */
export interface DomainDoors {
  accounts: Accounts;
  streams: Streams;
  chat: Chat;
  polls: Polls;
  analytics: Analytics;
  audit: AuditLog;
  viewers: Viewers;
}

export interface DashboardContext extends DomainDoors {
  config: Readonly<Config>;
  clock: Clock;
  logger: Logger;
  sessions: Sessions;
  auth: DashboardAuth;
  feeds: DashboardFeeds;
  data: LiveData;
  eraseWaitMs?: number;
}
