/* Written by `make categories` from creditmeter/categories.py: do not edit. */
window.CREDITMETER_CATEGORIES = [
  {
    "name": "chat",
    "label": "Chat",
    "color": "#4e79a7"
  },
  {
    "name": "knowledge_doc_indexing",
    "label": "Knowledge indexing",
    "color": "#f28e2b"
  },
  {
    "name": "knowledge_doc_storage",
    "label": "Knowledge storage",
    "color": "#e15759"
  },
  {
    "name": "rerank",
    "label": "Rerank",
    "color": "#76b7b2"
  },
  {
    "name": "database_processing",
    "label": "Database",
    "color": "#59a14f"
  },
  {
    "name": "tool_call",
    "label": "Tool calls",
    "color": "#edc948"
  },
  {
    "name": "asr",
    "label": "Speech to text",
    "color": "#b07aa1"
  },
  {
    "name": "tts",
    "label": "Text to speech",
    "color": "#ff9da7"
  }
];
window.CREDITMETER_LISTS = {
  "conversations": {
    "id": "conversation_id",
    "time": "conversation_create_time",
    "categories": [
      "chat",
      "anonymization",
      "asr",
      "tts",
      "rerank",
      "database_processing",
      "tool_call",
      "knowledge_doc_indexing",
      "question_tag",
      "moderation"
    ]
  },
  "runs": {
    "id": "run_id",
    "time": "run_start_time",
    "categories": [
      "chat",
      "anonymization",
      "asr",
      "tts",
      "rerank",
      "database_processing",
      "tool_call",
      "knowledge_doc_indexing",
      "question_tag"
    ]
  }
};
