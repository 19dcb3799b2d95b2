// Test data of Run: the payload text (remembered per workflow, payload.ts) and its editor's open state.
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { checkPayload, loadPayload, savePayload } from "../payload";

export function useTestData(workflowId: number) {
  const [params, setParamsState] = useState(() => loadPayload(workflowId));
  const [open, setOpen] = useState(false);
  const payload = useMemo(() => checkPayload(params), [params]);
  const setParams = useCallback((text: string) => { setParamsState(text); savePayload(workflowId, text); }, [workflowId]);
  // Opening the payload editor moves focus into it; closing it returns focus to its toolbar button.
  const button = useRef<HTMLButtonElement>(null);
  const close = useCallback(() => { setOpen(false); button.current?.focus(); }, []);
  useEffect(() => {
    if (open) document.querySelector<HTMLElement>("#payload-editor .cm-content")?.focus();
  }, [open]);
  return { params, setParams, payload, open, setOpen, close, button };
}
export type TestData = ReturnType<typeof useTestData>;
