// Listening for a test delivery (a webhook trigger's "Listen for a test event"): ask the server to
// capture the next delivery to the workflow's test URL, then read its state every second while the
// editor listens, until it has one (triggers/test_deliveries.py). The captured delivery is what the
// next "Run with the captured delivery" starts the draft with.
import { useCallback, useEffect, useState } from "react";
import { api, errorMessage, type TestDelivery } from "../api/client";

/** `prepare` runs first (the editor saves the draft: the capture is checked with the saved draft's trigger). */
export function useTestDelivery(workflowId: number, prepare: () => Promise<string | null>) {
  const [state, setState] = useState<TestDelivery | null>(null);
  const [error, setError] = useState("");
  const listen = useCallback(async () => {
    const failed = await prepare();
    if (failed) { setError(`not listening: ${failed}`); return; }
    const { data, error: e } = await api.POST("/api/v1/workflows/{workflow_id}/test-delivery", { params: { path: { workflow_id: workflowId } } });
    setError(e ? errorMessage(e) : "");
    if (data) setState(data);
  }, [prepare, workflowId]);
  const listening = state?.state === "listening";
  useEffect(() => {
    if (!listening) return;
    // A poll while listening (at most LISTEN_SECONDS): the capture arrives at the server, not here.
    const timer = window.setInterval(async () => {
      const { data } = await api.GET("/api/v1/workflows/{workflow_id}/test-delivery", { params: { path: { workflow_id: workflowId } } });
      if (data && data.state !== "listening") setState(data);
    }, 1000);
    return () => window.clearInterval(timer);
  }, [listening, workflowId]);
  return { state, error, listen, listening };
}
export type TestDeliveryState = ReturnType<typeof useTestDelivery>;
