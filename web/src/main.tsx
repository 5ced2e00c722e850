import "./app.css";
import { render } from "preact";
render(<p>MoleTok</p>, document.getElementById("app")!);
