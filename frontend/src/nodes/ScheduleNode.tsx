// Schedule trigger: the cron expression in words (cronstrue) and its time zone.
import { describeCron } from "../form/Form";
import { nodeComponent, short } from "./BaseNode";

export const ScheduleNode = nodeComponent("⟳", (c) => {
  if (typeof c.cron !== "string" || !c.cron) return "no schedule yet";
  const d = describeCron(c.cron);
  return short(`${d.ok ? d.text : c.cron} (${String(c.timezone ?? "UTC")})`, 48);
});
