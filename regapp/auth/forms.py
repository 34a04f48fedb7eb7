from wtforms import EmailField, PasswordField
from wtforms.validators import DataRequired, Length

from ..inputs import BrowserForm, no_control_characters


class LoginForm(BrowserForm):
    email = EmailField(
        "Email",
        validators=[
            DataRequired(message="Enter your email."),
            Length(max=254),
            no_control_characters,
        ],
    )
    password = PasswordField(
        "Password", validators=[DataRequired(message="Enter your password."), Length(max=200)]
    )
